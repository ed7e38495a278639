//! The domain vocabulary every layer speaks: what an event is ([`EventKind`]), where a
//! block is enforced ([`BlockTarget`]), who decided it ([`Origin`]) and why it ended
//! ([`EndReason`]). Each has one name, used in output, in the config, on the command
//! line and in the database: `Display` writes it and `FromStr` reads it back, refusing
//! anything else by name (never a silent default). Networks and addresses are
//! [`ipnet::IpNet`] and [`std::net::IpAddr`], normalised by [`crate::network`].

use std::fmt;
use std::str::FromStr;

/// A name that is not one of a vocabulary's: says which word it is and what was meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {what} (one of {expected})")]
pub struct UnknownName {
    /// What was being read: "block target", "event kind", ...
    pub what: &'static str,
    /// The text read.
    pub value: String,
    /// The names accepted, comma-separated.
    pub expected: String,
}

/// Implements `Display` and `FromStr` for a vocabulary from its `ALL` list and its
/// `name()`: one list of names, read and written the same way.
macro_rules! named {
    ($type:ty, $what:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $type {
            type Err = UnknownName;

            fn from_str(text: &str) -> Result<Self, UnknownName> {
                <$type>::ALL
                    .into_iter()
                    .find(|item| item.name() == text)
                    .ok_or_else(|| UnknownName {
                        what: $what,
                        value: text.to_string(),
                        expected: <$type>::ALL.map(|item| item.name()).join(", "),
                    })
            }
        }
    };
}

/// What a stored event means; stored as its integer code in `events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// The client failed SASL authentication (wrong password, unknown user, garbage
    /// response). These count toward rankings and blocks.
    AuthFailed = 0,
    /// The server's own authentication backend failed (`Connection lost to authentication
    /// server`, Cyrus `generic failure`, ...). Recorded for reports, never counted against
    /// the client.
    ServerFault = 1,
    /// Postfix refused a connection because saslguard's map entry matched
    /// (`NOQUEUE: reject: CONNECT from ...: Client host rejected: <reject_text>`): the
    /// block at work. Counted for block efficacy, never against the client.
    Rejected = 2,
    /// The client asked for a mechanism the server does not offer (`SASL CRAM-MD5
    /// authentication failed: Invalid authentication mechanism`). Legitimate clients (dma)
    /// do this once per connection before succeeding with another mechanism, so it is
    /// stored apart and counts toward blocks only with `[policy]
    /// count_invalid_mechanism = true` (fail2ban's `mode=auth` leaves it out too).
    InvalidMechanism = 3,
}

impl EventKind {
    /// Every kind, in code order: what retention prunes and what reports can select.
    pub const ALL: [EventKind; 4] = [
        EventKind::AuthFailed,
        EventKind::ServerFault,
        EventKind::Rejected,
        EventKind::InvalidMechanism,
    ];

    /// The integer stored in the database.
    pub fn code(self) -> i64 {
        self as i64
    }

    /// The kind stored as `code`, if any.
    pub fn from_code(code: i64) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The name used in output and on the command line (`--kind`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::AuthFailed => "auth-failed",
            EventKind::ServerFault => "server-fault",
            EventKind::Rejected => "rejected",
            EventKind::InvalidMechanism => "invalid-mechanism",
        }
    }
}

named!(EventKind, "event kind");

/// Where a block is enforced.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BlockTarget {
    /// A REJECT entry in the Postfix access map.
    Postfix,
    /// A DROP in the firewall.
    Firewall,
}

impl BlockTarget {
    /// Both targets, in display order.
    pub const ALL: [BlockTarget; 2] = [BlockTarget::Postfix, BlockTarget::Firewall];

    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            BlockTarget::Postfix => "postfix",
            BlockTarget::Firewall => "firewall",
        }
    }

    /// The name stored and shown (as [`BlockTarget::name`]).
    pub fn as_str(self) -> &'static str {
        self.name()
    }
}

named!(BlockTarget, "block target");

/// Who decided a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A policy tier, from counted failures.
    Policy,
    /// An admin, with `saslguard block` or `import`.
    Manual,
}

impl Origin {
    /// Both origins.
    pub const ALL: [Origin; 2] = [Origin::Policy, Origin::Manual];

    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Policy => "policy",
            Origin::Manual => "manual",
        }
    }
}

named!(Origin, "block origin");

/// Why a block ended before or at its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    /// Its time was over.
    Expired,
    /// An admin ran `saslguard unblock`.
    Unblocked,
    /// An allowlist entry now covers it.
    Allowlisted,
}

impl EndReason {
    /// Every reason.
    pub const ALL: [EndReason; 3] = [
        EndReason::Expired,
        EndReason::Unblocked,
        EndReason::Allowlisted,
    ];

    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Unblocked => "unblocked",
            EndReason::Allowlisted => "allowlisted",
        }
    }
}

named!(EndReason, "block end reason");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_itself() {
        for kind in EventKind::ALL {
            assert_eq!(kind.to_string().parse::<EventKind>(), Ok(kind));
            assert_eq!(EventKind::from_code(kind.code()), Some(kind));
        }
        for target in BlockTarget::ALL {
            assert_eq!(target.to_string().parse::<BlockTarget>(), Ok(target));
        }
        for origin in Origin::ALL {
            assert_eq!(origin.to_string().parse::<Origin>(), Ok(origin));
        }
        for reason in EndReason::ALL {
            assert_eq!(reason.to_string().parse::<EndReason>(), Ok(reason));
        }
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_it_never_a_default() {
        let err = "Firewall".parse::<BlockTarget>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"Firewall\" is not a block target (one of postfix, firewall)"
        );
        assert!("replaced".parse::<EndReason>().is_err());
        assert!("".parse::<Origin>().is_err());
    }
}
