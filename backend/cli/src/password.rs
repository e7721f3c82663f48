//! The password of an encrypted private key: from `NODEFIT_KEY_PASSWORD`, else asked on the
//! terminal without echo. Never printed, logged or kept longer than needed (zeroized on drop).

use std::io::IsTerminal;

use zeroize::Zeroizing;

use nodefit_signing::{KeyError, PASSWORD_ENV};

/// Whether to ask twice, for a new key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Once,
    Twice,
}

/// The password from [`PASSWORD_ENV`], or typed at the terminal. Without either, an error that
/// says how to give one: a prompt with no terminal would hang or read a pipe meant for data.
pub fn password(prompt: &str, confirm: Confirm) -> Result<Zeroizing<String>, KeyError> {
    if let Some(value) = std::env::var_os(PASSWORD_ENV) {
        return value
            .into_string()
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Password(format!("{PASSWORD_ENV} is not valid UTF-8")));
    }
    if !std::io::stdin().is_terminal() {
        return Err(KeyError::Password(format!(
            "no password given: an encrypted private key needs one; set {PASSWORD_ENV}, or run \
             nodefit in a terminal to be asked for it"
        )));
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| KeyError::Password(format!("cannot read the password: {e}")))
    };
    let first = ask(prompt)?;
    if confirm == Confirm::Twice && *ask("Enter the password again: ")? != *first {
        return Err(KeyError::Password("the two passwords differ".into()));
    }
    Ok(first)
}
