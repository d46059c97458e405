//! Protocol revisions and the two eras they fall into.

use std::fmt;

/// A protocol revision this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// The first public revision (HTTP+SSE era).
    V2024_11_05,
    /// Streamable HTTP, batching, tool annotations.
    V2025_03_26,
    /// Structured tool output, elicitation, `MCP-Protocol-Version` header.
    V2025_06_18,
    /// The last revision with the `initialize` handshake.
    V2025_11_25,
    /// The stateless revision: per-request `_meta`, `server/discover`, MRTR.
    V2026_07_28,
}

/// How a client and server agree on a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// `initialize` / `notifications/initialized`, per-session state.
    Handshake,
    /// Every request carries its version and capabilities in `_meta`.
    Stateless,
}

impl ProtocolVersion {
    /// Every revision, oldest first.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];
    /// The newest revision negotiated through `initialize`.
    pub const LATEST_HANDSHAKE: ProtocolVersion = ProtocolVersion::V2025_11_25;
    /// The newest revision overall.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2026_07_28;

    /// Parses a revision string such as `"2025-11-25"`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "2024-11-05" => Self::V2024_11_05,
            "2025-03-26" => Self::V2025_03_26,
            "2025-06-18" => Self::V2025_06_18,
            "2025-11-25" => Self::V2025_11_25,
            "2026-07-28" => Self::V2026_07_28,
            _ => return None,
        })
    }

    /// The revision string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// The era this revision belongs to.
    pub fn era(self) -> Era {
        if self >= Self::V2026_07_28 { Era::Stateless } else { Era::Handshake }
    }

    /// Every supported revision as strings, newest first (the order `supported` lists use).
    pub fn supported_strings() -> Vec<&'static str> {
        Self::ALL.iter().rev().map(|v| v.as_str()).collect()
    }

    /// Stateless revisions, newest first.
    pub fn stateless_strings() -> Vec<&'static str> {
        Self::ALL.iter().rev().filter(|v| v.era() == Era::Stateless).map(|v| v.as_str()).collect()
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip_and_split_into_eras() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(ProtocolVersion::parse("1900-01-01"), None);
        assert_eq!(ProtocolVersion::V2025_11_25.era(), Era::Handshake);
        assert_eq!(ProtocolVersion::V2026_07_28.era(), Era::Stateless);
        assert_eq!(ProtocolVersion::supported_strings()[0], "2026-07-28");
    }
}
