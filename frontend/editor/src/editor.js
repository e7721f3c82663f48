// CodeMirror 6 for nodefit's web UI. The Rust app (frontend/src/codemirror.rs) calls this small
// API through `globalThis.nodefitEditor`; everything that knows about specs (lint, completions)
// stays in Rust, so this file only adapts CodeMirror.
//
// Positions crossing this boundary are UTF-16 offsets, CodeMirror's unit; the Rust side converts
// from the core's byte spans.

import { EditorState, EditorSelection } from "@codemirror/state";
import {
  EditorView,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { search, searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { setDiagnostics, lintGutter, lintKeymap } from "@codemirror/lint";
import {
  syntaxHighlighting,
  HighlightStyle,
  indentOnInput,
  bracketMatching,
  foldGutter,
  foldKeymap,
  foldService,
  StreamLanguage,
} from "@codemirror/language";
import { yaml as yamlMode } from "@codemirror/legacy-modes/mode/yaml";
import { tags } from "@lezer/highlight";

// YAML as a line-based stream parser rather than Lezer's YAML grammar: bringing the Lezer tree up
// to date on every change cost 3 ms at the median and 6 to 8 ms at the p95 of each keystroke on
// a 500-line spec (docs/benchmarks.md), while a stream parser re-reads only from the changed
// line. Its keys (`atom`) take the key colour. The stream mode starts a quoted string at any
// quote; YAML does only where a scalar starts, so `My image's nodes` stays plain text.
const yamlLanguage = StreamLanguage.define({
  ...yamlMode,
  token(stream, state) {
    const ch = stream.peek();
    if ((ch === "'" || ch === '"') && !startsScalar(stream)) {
      stream.next();
      return null;
    }
    return yamlMode.token(stream, state);
  },
  tokenTable: { atom: tags.propertyName },
});

// Whether the stream is where a YAML scalar may start: first on its line, or after `:`, `-`,
// `?`, `,`, `[` or `{`.
function startsScalar(stream) {
  const before = stream.string.slice(0, stream.pos).trimEnd();
  return before === "" || /[:\-?,[{]$/.test(before);
}

// Folding by indentation, as YAML nests: a line folds the lines below it that are indented
// deeper, and a `key:` line also the `- ` items written at its own indentation (NFD's specs
// write `compatibilities:` and `rules:` lists that way).
const foldYamlBlocks = foldService.of((state, lineStart) => {
  const line = state.doc.lineAt(lineStart);
  const own = line.text.search(/\S/);
  if (own < 0 || line.text.startsWith("#", own)) return null;
  const opensBlock = /:\s*(#.*)?$/.test(line.text);
  let last = null;
  for (let n = line.number + 1; n <= state.doc.lines; n++) {
    const text = state.doc.line(n).text;
    const at = text.search(/\S/);
    if (at < 0) continue;
    const inside = at > own || (opensBlock && at === own && text.startsWith("- ", at));
    if (!inside) break;
    last = n;
  }
  return last === null ? null : { from: line.to, to: state.doc.line(last).to };
});

// Colours come from the page's CSS variables, so the editor follows the light or dark theme
// (prefers-color-scheme) with the rest of the page, and both keep WCAG AA contrast.
const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: "var(--syn-key)" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--syn-string)" },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: "var(--syn-atom)" },
  { tag: [tags.comment, tags.lineComment], color: "var(--syn-comment)", fontStyle: "italic" },
  { tag: [tags.punctuation, tags.separator, tags.squareBracket, tags.brace], color: "var(--syn-punct)" },
  { tag: [tags.keyword, tags.meta, tags.labelName, tags.typeName], color: "var(--syn-keyword)" },
]);

const theme = EditorView.theme({
  "&": { color: "var(--fg)", backgroundColor: "var(--bg)" },
  ".cm-content": { caretColor: "var(--fg)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)" },
  ".cm-gutters": { backgroundColor: "var(--panel)", color: "var(--muted)", borderRight: "1px solid var(--line)" },
  ".cm-activeLine": { backgroundColor: "var(--active-line)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--active-line)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "var(--selection)" },
  ".cm-tooltip": { backgroundColor: "var(--panel)", color: "var(--fg)", border: "1px solid var(--line)" },
  ".cm-panels": { backgroundColor: "var(--panel)", color: "var(--fg)" },
  ".cm-searchMatch": { backgroundColor: "var(--search-match)" },
});

// Lint results are applied in a microtask: CodeMirror forbids dispatching from inside an update
// listener, and a microtask still runs before the browser paints, so the user never sees a
// keystroke without its diagnostics.
function scheduleLint(editor) {
  if (editor.lintQueued) return;
  editor.lintQueued = true;
  queueMicrotask(() => {
    editor.lintQueued = false;
    editor.lintNow();
  });
}

class Editor {
  // hooks.change(text) -> JSON array of diagnostics; hooks.complete(text, pos, explicit) -> JSON
  // completion result or "" for none; hooks.tabMode(indents) when Ctrl-M switches Tab.
  constructor(parent, doc, hooks, label) {
    this.hooks = hooks;
    this.lintQueued = false;
    this.tabIndents = false;
    const completionSource = (context) => {
      const json = hooks.complete(context.state.doc.toString(), context.pos, context.explicit);
      if (!json) return null;
      const result = JSON.parse(json);
      return { from: result.from, to: result.to, options: result.options, validFor: /^[\w.\-\/]*$/ };
    };
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightSpecialChars(),
          history(),
          foldGutter(),
          drawSelection(),
          indentOnInput(),
          syntaxHighlighting(highlight),
          theme,
          bracketMatching(),
          closeBrackets(),
          autocompletion({ override: [completionSource], icons: false }),
          highlightActiveLine(),
          highlightSelectionMatches(),
          search({ top: true }),
          lintGutter(),
          yamlLanguage,
          foldYamlBlocks,
          EditorState.tabSize.of(2),
          // Tab moves focus out of the editor (tab-focus mode, on below), so tabbing through the
          // page never edits the YAML; Ctrl-M, CodeMirror's standard toggle (shown in the UI),
          // makes Tab indent instead.
          keymap.of([
            { key: "Ctrl-m", mac: "Shift-Alt-m", run: () => { this.setTabIndent(!this.tabIndents); this.hooks.tabMode(this.tabIndents); return true; } },
            ...closeBracketsKeymap,
            ...defaultKeymap,
            ...searchKeymap,
            ...historyKeymap,
            ...foldKeymap,
            ...completionKeymap,
            ...lintKeymap,
            indentWithTab,
          ]),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) {
              performance.mark("nodefit-edit");
              scheduleLint(this);
            }
          }),
        ],
      }),
    });
    this.view.setTabFocusMode(true);
    this.lintNow();
  }

  // Tab indents (true) or moves focus (false).
  setTabIndent(on) {
    this.tabIndents = on;
    this.view.setTabFocusMode(!on);
  }

  // Runs the Rust lint on the current text and shows its diagnostics. The "nodefit-lint"
  // performance measure (edit to diagnostics in the DOM) is what docs/benchmarks.md reports.
  lintNow() {
    const start = performance.getEntriesByName("nodefit-edit", "mark").pop()?.startTime ?? performance.now();
    performance.clearMarks("nodefit-edit");
    const raw = JSON.parse(this.hooks.change(this.view.state.doc.toString()));
    const diagnostics = raw.map((d) => this.toCodeMirror(d));
    this.view.dispatch(setDiagnostics(this.view.state, diagnostics));
    performance.measure("nodefit-lint", { start, end: performance.now() });
  }

  toCodeMirror(d) {
    const length = this.view.state.doc.length;
    const from = Math.min(d.from, length);
    const to = Math.min(Math.max(d.to, from), length);
    const out = {
      from,
      to,
      severity: d.severity,
      source: d.code,
      message: d.hint ? `${d.message}\n${d.hint}` : d.message,
    };
    if (d.fix) {
      const fix = d.fix;
      out.actions = [
        {
          name: fix.label,
          apply: (view) => {
            view.dispatch({ changes: { from: fix.from, to: fix.to, insert: fix.insert } });
            view.focus();
          },
        },
      ];
    }
    return out;
  }

  text() {
    return this.view.state.doc.toString();
  }

  // Replaces the whole text as one undoable change (loading a spec, restoring a version).
  setText(text) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  // Targeted edits (quick fix, rule builder): `changes` is a JSON array of {from, to, insert}
  // in the current document's positions, applied as one undoable change; the cursor ends up
  // after the last one.
  edit(changes) {
    const list = JSON.parse(changes);
    if (list.length === 0) return;
    const set = this.view.state.changes(list);
    const last = list[list.length - 1];
    this.view.dispatch({
      changes: set,
      selection: EditorSelection.cursor(set.mapPos(last.to, 1)),
      scrollIntoView: true,
    });
    this.view.focus();
  }

  // Selects a range, scrolls it into view and focuses the editor (problems list, builder).
  select(from, to) {
    const length = this.view.state.doc.length;
    this.view.dispatch({
      selection: EditorSelection.range(Math.min(from, length), Math.min(to, length)),
      scrollIntoView: true,
    });
    this.view.focus();
  }

  focus() {
    this.view.focus();
  }
}

export function create(parent, doc, hooks, label) {
  return new Editor(parent, doc, hooks, label);
}

globalThis.nodefitEditor = { create };
