//! Tokens and roles.

use serde::{Deserialize, Serialize};

/// What a token may do; each role may do everything the ones before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything except tokens.
    Viewer,
    /// Also creates, changes and deletes snapshots and specs.
    Author,
    /// Also publishes (signs and attaches) and detaches.
    Publisher,
    /// Also manages tokens.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Author, Role::Publisher, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Author => "author",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The permissions `GET /api/v1/me` lists, for the UI to show or hide actions.
    pub fn permissions(self) -> Vec<String> {
        [
            (Role::Viewer, "read"),
            (Role::Author, "write"),
            (Role::Publisher, "publish"),
            (Role::Admin, "admin"),
        ]
        .into_iter()
        .filter(|(role, _)| self >= *role)
        .map(|(_, p)| p.to_owned())
        .collect()
    }
}

/// The caller (`GET /me`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// The token's name.
    pub name: String,
    pub role: Role,
    /// `read`, `write`, `publish`, `admin`: what the role allows.
    pub permissions: Vec<String>,
}

impl Me {
    pub fn may(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: Token,
    /// The token itself: shown only in this answer, stored only as a hash.
    pub token: String,
}
