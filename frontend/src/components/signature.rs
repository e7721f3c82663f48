//! An artifact's signatures, one line each: format (and envelope), where it is, who it says
//! signed, and whether it verified against what the server trusts (its trust policy, else its
//! own signing keys) or why not; then whether they satisfy the trust policy.

use leptos::prelude::*;
use nodefit_api::publish::ArtifactSignature;

#[component]
pub fn Signatures(
    signatures: Vec<ArtifactSignature>,
    trusted: Option<bool>,
    trust: Option<String>,
    looked_up: bool,
) -> impl IntoView {
    if !looked_up {
        return view! {
            <span class="muted" data-testid="signatures">"signatures not looked up (only the newest 50 artifacts are)"</span>
        }
        .into_any();
    }
    let verdict = trust.zip(trusted).map(|(trust, trusted)| {
        let (class, text) = if trusted {
            ("sig-ok", format!("trusted under {trust}"))
        } else {
            ("sig-bad", format!("not trusted under {trust}"))
        };
        view! { <div class=class data-testid="trusted">{text}</div> }
    });
    if signatures.is_empty() {
        return view! {
            <div data-testid="signatures"><span class="muted">"unsigned"</span>{verdict}</div>
        }
        .into_any();
    }
    view! {
        <div data-testid="signatures">
            <ul class="signatures">
                {signatures.into_iter().map(|s| view! { <SignatureLine s/> }).collect_view()}
            </ul>
            {verdict}
        </div>
    }
    .into_any()
}

#[component]
fn SignatureLine(s: ArtifactSignature) -> impl IntoView {
    let format = match (s.format.as_str(), s.envelope.as_deref()) {
        ("bundle", _) => "sigstore bundle".to_owned(),
        ("notation", Some(envelope)) => format!("Notary Project ({envelope})"),
        ("notation", None) => "Notary Project".to_owned(),
        ("classic", _) => "classic cosign".to_owned(),
        (other, _) => other.to_owned(),
    };
    let outcome = if s.verified {
        view! {
            <span class="sig-ok">{format!("verified with {}", s.verified_by.unwrap_or_default())}</span>
        }
        .into_any()
    } else {
        view! {
            <span class="sig-bad">{format!("not verified: {}", s.reason.unwrap_or_else(|| "no reason given".into()))}</span>
        }
        .into_any()
    };
    view! {
        <li data-testid="signature">
            <span class="sig-format">{format}</span>
            " · " <code>{s.reference}</code>
            {s.signer.map(|signer| view! { " · " <span>{signer}</span> })}
            " · " {outcome}
            {(!s.unchecked.is_empty()).then(|| view! {
                <div class="muted">{format!("not checked offline: {}", s.unchecked.join("; "))}</div>
            })}
        </li>
    }
}
