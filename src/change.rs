//! What a command changed, one record per change, for people (a line each) and scripts (JSON).

use std::fmt;

use serde::Serialize;

/// What happened to a key, a version or the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Deleted,
    Deactivated,
    Reactivated,
    Kept,
    Promoted,
    Abandoned,
    NoteRemoved,
    /// The secret's destinations were given the current key back.
    GivenBack,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Deactivated => "deactivated",
            ChangeKind::Reactivated => "reactivated",
            ChangeKind::Kept => "kept",
            ChangeKind::Promoted => "promoted",
            ChangeKind::Abandoned => "abandoned",
            ChangeKind::NoteRemoved => "note_removed",
            ChangeKind::GivenBack => "given_back",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub reason: String,
}

impl Change {
    pub fn key(action: ChangeKind, key_id: &str, reason: impl Into<String>) -> Change {
        Change {
            action,
            key_id: Some(key_id.to_string()),
            version_id: None,
            reason: reason.into(),
        }
    }

    pub fn version(action: ChangeKind, version_id: &str, reason: impl Into<String>) -> Change {
        Change {
            action,
            key_id: None,
            version_id: Some(version_id.to_string()),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (&self.key_id, &self.version_id) {
            (Some(key), _) => format!("key {key}"),
            (None, Some(version)) => format!("version {version}"),
            (None, None) => "secret".to_string(),
        };
        write!(f, "{} {what}: {}", self.action.as_str(), self.reason)
    }
}
