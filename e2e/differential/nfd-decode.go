// nfd-decode: the reference side of nodefit's differential tests. It decodes specs with the
// libraries NFD uses (sigs.k8s.io/yaml over go-yaml v2, into types shaped like NFD's
// api/image-compatibility and nodefeaturerule types) and parses versions with Masterminds
// semver, and prints what Go makes of them, so that tests can compare nodefit's own reading.
//
// Input (stdin): {"specs": ["<yaml>", ...], "versions": ["<text>", ...],
// "regexps": [["<pattern>", "<input>"], ...]}.
// Output (stdout): {"specs": [{"spec": <json>} | {"error": "..."}], "versions": [[maj, min, pat] | null],
// "regexps": [true | false | null]} (null: the pattern does not compile; else whether it finds a
// match in the input, as NFD's InRegexp does).
//
// Built by e2e/testbed/setup.sh with Go 1.25 (NFD's toolchain: regexp is part of its behaviour)
// from Debian's Go packages (golang-k8s-sigs-yaml-dev,
// golang-gopkg-yaml.v2-dev, golang-github-masterminds-semver-dev) in GOPATH mode.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"github.com/Masterminds/semver"
	"sigs.k8s.io/yaml"
)

// The field types and JSON names follow NFD's API types; decoding depends on both.
type MatchExpression struct {
	Op    string   `json:"op"`
	Value []string `json:"value,omitempty"`
	Type  string   `json:"type,omitempty"`
}

type MatchExpressionSet map[string]*MatchExpression

type FeatureMatcherTerm struct {
	Feature          string              `json:"feature"`
	MatchExpressions *MatchExpressionSet `json:"matchExpressions"`
	MatchName        *MatchExpression    `json:"matchName"`
}

type MatchAnyElem struct {
	MatchFeatures []FeatureMatcherTerm `json:"matchFeatures"`
}

type GroupRule struct {
	Name          string               `json:"name"`
	Vars          map[string]string    `json:"vars,omitempty"`
	VarsTemplate  string               `json:"varsTemplate,omitempty"`
	MatchFeatures []FeatureMatcherTerm `json:"matchFeatures,omitempty"`
	MatchAny      []MatchAnyElem       `json:"matchAny,omitempty"`
}

type Compatibility struct {
	Rules       []GroupRule `json:"rules"`
	Weight      int         `json:"weight,omitempty"`
	Tag         string      `json:"tag"`
	Description string      `json:"description"`
}

type Spec struct {
	Version         string          `json:"version"`
	Compatibilities []Compatibility `json:"compatibilities"`
}

type input struct {
	Specs    []string    `json:"specs"`
	Versions []string    `json:"versions"`
	Regexps  [][2]string `json:"regexps"`
}

type specResult struct {
	Spec  *Spec  `json:"spec,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "nfd-decode: bad input:", err)
		os.Exit(2)
	}
	out := struct {
		Specs    []specResult `json:"specs"`
		Versions []*[3]uint64 `json:"versions"`
		Regexps  []*bool      `json:"regexps"`
	}{}
	for _, src := range in.Specs {
		var s Spec
		if err := yaml.Unmarshal([]byte(src), &s); err != nil {
			out.Specs = append(out.Specs, specResult{Error: err.Error()})
		} else {
			out.Specs = append(out.Specs, specResult{Spec: &s})
		}
	}
	for _, v := range in.Versions {
		parsed, err := semver.NewVersion(v)
		if err != nil {
			out.Versions = append(out.Versions, nil)
			continue
		}
		out.Versions = append(out.Versions, &[3]uint64{uint64(parsed.Major()), uint64(parsed.Minor()), uint64(parsed.Patch())})
	}
	for _, pair := range in.Regexps {
		re, err := regexp.Compile(pair[0])
		if err != nil {
			out.Regexps = append(out.Regexps, nil)
			continue
		}
		found := re.MatchString(pair[1])
		out.Regexps = append(out.Regexps, &found)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "nfd-decode:", err)
		os.Exit(1)
	}
}
