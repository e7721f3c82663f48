//! Settings as messages point to them. The client is used from the command line, where a
//! setting is a flag (`--ca-file`), and from the server, where it is a configuration key
//! (`ca_file` in `[registries.lab]`): messages name a [`Setting`] and each edge supplies the
//! words its users know.

use std::fmt;

/// A setting of the registry client a message may point to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Extra CA certificates to trust ([`crate::Settings::ca_file`]).
    CaFile,
    /// Credentials of any kind for the registry ([`crate::Settings::credentials`]).
    Credentials,
    /// A username and password for the registry.
    UsernamePassword,
    /// Hosts besides the registry's own that may serve its token realm
    /// ([`crate::Settings::token_realm_hosts`]).
    TokenRealmHosts,
    /// How long the whole operation may take ([`crate::Settings::deadline`]).
    Deadline,
    /// How long one request may take ([`crate::Settings::request_timeout`]).
    RequestTimeout,
}

/// A name that belongs to no edge.
impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setting::CaFile => "the CA file setting",
            Setting::Credentials => "the credentials setting",
            Setting::UsernamePassword => "the username and password settings",
            Setting::TokenRealmHosts => "the token realm hosts setting",
            Setting::Deadline => "the overall time limit setting",
            Setting::RequestTimeout => "the request time limit setting",
        })
    }
}

/// How an edge names a setting of the registry that messages call `registry` (its label).
pub type SettingNames<'a> = &'a dyn Fn(Setting, &str) -> String;

/// Words that may point to settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(Vec<Part>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Words(String),
    Setting(Setting),
}

impl Text {
    /// Appends `words`.
    pub fn words(mut self, words: &str) -> Self {
        self.push_str(words);
        self
    }

    /// Appends a pointer to `setting`.
    pub fn setting(mut self, setting: Setting) -> Self {
        self.0.push(Part::Setting(setting));
        self
    }

    pub fn push_str(&mut self, words: &str) {
        match self.0.last_mut() {
            Some(Part::Words(last)) => last.push_str(words),
            _ => self.0.push(Part::Words(words.to_owned())),
        }
    }

    /// The text with each setting named by `name`.
    pub fn render(&self, name: &dyn Fn(Setting) -> String) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Words(words) => words.clone(),
                Part::Setting(setting) => name(*setting),
            })
            .collect()
    }
}

impl From<&str> for Text {
    fn from(words: &str) -> Self {
        Text::default().words(words)
    }
}

impl From<String> for Text {
    fn from(words: String) -> Self {
        Text(vec![Part::Words(words)])
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&|setting| setting.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_edge_names_the_settings_its_own_way() {
        let text = Text::from("no answer within 30 s (")
            .setting(Setting::RequestTimeout)
            .words(")");
        let flags = |s: Setting| match s {
            Setting::RequestTimeout => "--request-timeout".to_owned(),
            other => format!("{other:?}"),
        };
        assert_eq!(
            text.render(&flags),
            "no answer within 30 s (--request-timeout)"
        );
        assert_eq!(
            text.to_string(),
            "no answer within 30 s (the request time limit setting)"
        );
        let mut longer = text.clone();
        longer.push_str("; gave up");
        assert_eq!(
            longer.render(&flags),
            "no answer within 30 s (--request-timeout); gave up"
        );
    }
}
