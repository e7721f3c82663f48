//! An artifact's signatures, one line each: format, where it is, signer and verification when
//! the server says. Today the server lists classic cosign signatures (the `.sig` tag's digest
//! and how many signatures it holds) without verifying them; a signature kind or field it
//! gains later is one more arm here.

use leptos::prelude::*;
use nodefit_api::publish::SignatureInfo;

#[component]
pub fn Signatures(signature: Option<SignatureInfo>, looked_up: bool) -> impl IntoView {
    match (signature, looked_up) {
        (Some(s), _) => view! {
            <ul class="signatures" data-testid="signatures">
                <li>
                    <span class="sig-format">"classic cosign"</span>
                    " · " {format!("{} signature(s) in ", s.count)} <code>{s.digest}</code>
                    " · " <span class="muted">"not verified by the server (" <code>"nodefit verify"</code> " verifies)"</span>
                </li>
            </ul>
        }
        .into_any(),
        (None, true) => view! { <span class="muted" data-testid="signatures">"unsigned"</span> }.into_any(),
        (None, false) => view! {
            <span class="muted" data-testid="signatures">"signatures not looked up (only the newest 50 artifacts are)"</span>
        }
        .into_any(),
    }
}
