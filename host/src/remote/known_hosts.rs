//! known_hosts as OpenSSH reads it (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): an optional
//! marker (`@revoked`, `@cert-authority`), a comma-separated list of host patterns, the key
//! type and the key, separated by any spaces or tabs; `#` comments and blank lines are
//! skipped, and so is a line that does not parse (as OpenSSH does). A pattern is a host or
//! `[host]:port`, with `*` and `?` wildcards, negated by a leading `!`, or a hashed entry
//! `|1|salt|hash` (HMAC-SHA1 of the host keyed with the salt, both base64).

use crate::bounded::read_regular_file;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{self, HashAlg, PublicKey};
use sha1::Sha1;

/// Why a server's host key is refused. Every message names the host key, which is how a
/// classifier and `ferry doctor` tell a refused host key from other connect errors.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error("cannot check the host key against {}: {source}", file.display())]
    Unreadable {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "REVOKED HOST KEY DETECTED: the host key of {host} ({key}) is marked @revoked on line \
         {line} of {}; ferry refuses to connect. Ask the server's administrator for its current \
         key",
        file.display()
    )]
    Revoked {
        host: String,
        key: String,
        file: PathBuf,
        line: usize,
    },
    #[error(
        "WARNING: the host key of {host} has changed: the server offered {key}, but line {line} \
         of {} holds another key for it. Someone may be intercepting the connection, or the \
         server's key was replaced; only if its administrator confirms the new key, delete line \
         {line} and add the new key with: {keyscan}",
        file.display()
    )]
    Changed {
        host: String,
        key: String,
        file: PathBuf,
        line: usize,
        keyscan: String,
    },
    #[error(
        "host key of {host} ({key}) is not in {}{}; if you trust it, add it with: {keyscan}",
        file.display(),
        authority_note(*authority)
    )]
    Unknown {
        host: String,
        key: String,
        file: PathBuf,
        /// The line of an `@cert-authority` entry for this host, if there is one.
        authority: Option<usize>,
        keyscan: String,
    },
    #[error("the server presented a host certificate instead of a host key")]
    Certificate,
}

fn authority_note(authority: Option<usize>) -> String {
    authority.map_or_else(String::new, |line| {
        format!(
            " (line {line} trusts a certificate authority for it, but ferry does not ask for \
             host certificates: a @cert-authority entry never vouches for a plain host key)"
        )
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One entry of a known_hosts file.
#[derive(Debug)]
struct Entry {
    /// The line an editor shows, from 1.
    line: usize,
    marker: Marker,
    patterns: String,
    key: PublicKey,
}

/// The entries of one known_hosts file.
/// The largest known_hosts file read (a device or a pipe could be read forever).
const MAX_KNOWN_HOSTS_BYTES: u64 = 64 << 20;

pub struct KnownHosts {
    file: PathBuf,
    entries: Vec<Entry>,
}

impl KnownHosts {
    /// Read `file`; a missing file knows no host.
    pub fn read(file: &Path) -> Result<KnownHosts, HostKeyError> {
        let bytes = match read_regular_file(file, MAX_KNOWN_HOSTS_BYTES) {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => Vec::new(),
            Err(error) => {
                return Err(HostKeyError::Unreadable {
                    file: file.to_path_buf(),
                    source: std::io::Error::other(error.to_string()),
                });
            }
        };
        // OpenSSH's lines are ASCII: a line that is not UTF-8 matches no host.
        Ok(KnownHosts::parse(file, &String::from_utf8_lossy(&bytes)))
    }

    fn parse(file: &Path, text: &str) -> KnownHosts {
        let entries = text
            .lines()
            .enumerate()
            .filter_map(|(index, line)| parse_line(index + 1, line))
            .collect();
        KnownHosts {
            file: file.to_path_buf(),
            entries,
        }
    }

    /// Whether `key` is the host key of `host` on `port`: a revoked key is refused before
    /// anything else, then a recorded key accepts it, another key of its type refuses it.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), HostKeyError> {
        let host_port = host_port(host, port);
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| host_matches(&entry.patterns, &host_port))
            .collect();
        let find = |marker: Marker, wanted: &dyn Fn(&PublicKey) -> bool| {
            matching
                .iter()
                .find(|entry| entry.marker == marker && wanted(&entry.key))
                .map(|entry| entry.line)
        };
        let same = |recorded: &PublicKey| recorded.key_data() == key.key_data();
        if let Some(line) = find(Marker::Revoked, &same) {
            return Err(HostKeyError::Revoked {
                host: host_port,
                key: describe_key(key),
                file: self.file.clone(),
                line,
            });
        }
        if find(Marker::None, &same).is_some() {
            return Ok(());
        }
        let keyscan = keyscan_command(host, port, &self.file);
        if let Some(line) = find(Marker::None, &|recorded| {
            recorded.algorithm() == key.algorithm()
        }) {
            return Err(HostKeyError::Changed {
                host: host_port,
                key: describe_key(key),
                file: self.file.clone(),
                line,
                keyscan,
            });
        }
        Err(HostKeyError::Unknown {
            host: host_port,
            key: describe_key(key),
            file: self.file.clone(),
            authority: find(Marker::CertAuthority, &|_| true),
            keyscan,
        })
    }
}

/// The entry on `line`, or `None` for a comment, a blank or a malformed line.
fn parse_line(number: usize, line: &str) -> Option<Entry> {
    let mut fields = line.split_ascii_whitespace();
    let first = fields.next().filter(|field| !field.starts_with('#'))?;
    let (marker, patterns) = match first {
        "@revoked" => (Marker::Revoked, fields.next()?),
        "@cert-authority" => (Marker::CertAuthority, fields.next()?),
        marker if marker.starts_with('@') => return None,
        patterns => (Marker::None, patterns),
    };
    let _key_type = fields.next()?;
    let key = keys::parse_public_key_base64(fields.next()?).ok()?;
    Some(Entry {
        line: number,
        marker,
        patterns: patterns.to_string(),
        key,
    })
}

/// The host as known_hosts writes it: `[host]:port` unless the port is 22.
fn host_port(host: &str, port: u16) -> String {
    match port {
        22 => host.to_string(),
        port => format!("[{host}]:{port}"),
    }
}

/// Whether `host` matches the comma-separated `patterns`: one matches and no negated one
/// does.
fn host_matches(patterns: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard_match(&negated.to_ascii_lowercase(), &host) {
                return false;
            }
        } else if let Some(hashed) = pattern.strip_prefix("|1|") {
            matched |= hashed_match(hashed, &host);
        } else {
            matched |= wildcard_match(&pattern.to_ascii_lowercase(), &host);
        }
    }
    matched
}

/// `salt|hash` of a hashed entry against `host`.
fn hashed_match(salt_and_hash: &str, host: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    Hmac::<Sha1>::new_from_slice(&salt).is_ok_and(|mac| {
        mac.chain_update(host.as_bytes())
            .verify_slice(&hash)
            .is_ok()
    })
}

/// `*` matches any run of characters, `?` any one.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    // The classic greedy match with one backtrack point: the last `*` seen.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The command that adds the server's keys to `file`.
fn keyscan_command(host: &str, port: u16, file: &Path) -> String {
    let port = match port {
        22 => String::new(),
        port => format!(" -p {port}"),
    };
    format!("ssh-keyscan{port} {host} >> {}", file.display())
}

/// A key as people compare it: its type and SHA-256 fingerprint.
pub fn describe_key(key: &PublicKey) -> String {
    format!("{} {}", key.algorithm(), key.fingerprint(HashAlg::Sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKba1NuwGLTtchRqNmCFDJBD8qkRmDgcI9FuGbwHQwP+";
    const OTHER: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIO7fM2rLcOQkTCe7mGwJ6wZYbORrIPJ1Y2qki5c5roTN";

    fn key(base64: &str) -> PublicKey {
        keys::parse_public_key_base64(base64).unwrap()
    }

    fn check(text: &str, host: &str, port: u16) -> Result<(), HostKeyError> {
        KnownHosts::parse(Path::new("/kh"), text).check(host, port, &key(KEY))
    }

    /// Lines of random bytes from a set that knows the format's delimiters: parsing and
    /// checking never panic, and a line that is not an entry matches no host.
    #[test]
    fn garbage_lines_never_panic_and_never_vouch_for_a_key() {
        const PIECES: [&str; 14] = [
            "@revoked",
            "@cert-authority",
            "|1|",
            "|",
            "[",
            "]:",
            "*",
            "?",
            "!",
            ",",
            " ",
            "\t",
            "ssh-ed25519",
            KEY,
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5_000 {
            let mut line = String::new();
            for _ in 0..(state % 9) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
                line.push(char::from(b'a' + (state >> 8) as u8 % 26));
            }
            let known = KnownHosts::parse(Path::new("/kh"), &line);
            let checked = known.check("example.com", 22, &key(KEY));
            if checked.is_ok() {
                assert!(
                    line.contains(KEY),
                    "{line:?} vouched for a key it does not hold"
                );
            }
        }
    }

    #[test]
    fn a_recorded_key_is_accepted_with_any_whitespace_and_comments() {
        for text in [
            format!("example.com ssh-ed25519 {KEY}\n"),
            format!("# comment\n\nexample.com\tssh-ed25519\t{KEY} user@host\n"),
            format!("  other.org,example.com  \t ssh-ed25519   {KEY}\n"),
        ] {
            assert!(check(&text, "example.com", 22).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn ports_other_than_22_are_bracketed() {
        let text = format!("[127.0.0.1]:2222 ssh-ed25519 {KEY}\n");
        assert!(check(&text, "127.0.0.1", 2222).is_ok());
        assert!(matches!(
            check(&text, "127.0.0.1", 22),
            Err(HostKeyError::Unknown { .. })
        ));
    }

    #[test]
    fn wildcards_and_negations_follow_openssh() {
        let text = format!("*.example.com,!bad.example.com ssh-ed25519 {KEY}\n");
        assert!(check(&text, "www.EXAMPLE.com", 22).is_ok());
        assert!(check(&text, "bad.example.com", 22).is_err());
        assert!(check(&text, "example.com", 22).is_err());
        let text = format!("host?.lan ssh-ed25519 {KEY}\n");
        assert!(check(&text, "host1.lan", 22).is_ok());
        assert!(check(&text, "host12.lan", 22).is_err());
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn hashed_hosts_match_by_hmac_sha1() {
        // `ssh-keygen -H` of "example.com" and "[127.0.0.1]:2222".
        let text = format!(
            "|1|uSNqMhQ36xtux2GjE7YL9eoewWw=|FjuOCEC4MEHmNsS0Yag4qouuR+4= ssh-ed25519 {KEY}\n\
             |1|1fZDuGcy5Cst2boCENSHmSf1zKg=|j1zOjpBgxZm8xlt+vHLy7Bt5CJU= ssh-ed25519 {KEY}\n"
        );
        assert!(check(&text, "example.com", 22).is_ok());
        assert!(check(&text, "127.0.0.1", 2222).is_ok());
        assert!(check(&text, "example.org", 22).is_err());
        assert!(check(&text, "127.0.0.1", 22).is_err());
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_also_recorded_naming_the_line() {
        let text = format!("host ssh-ed25519 {KEY}\n# why\n@revoked * ssh-ed25519 {KEY}\n");
        let error = check(&text, "host", 22).unwrap_err();
        assert!(
            matches!(error, HostKeyError::Revoked { line: 3, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("line 3 of /kh"), "{error}");
        let other = format!("host ssh-ed25519 {KEY}\n@revoked * ssh-ed25519 {OTHER}\n");
        assert!(check(&other, "host", 22).is_ok());
    }

    #[test]
    fn another_key_of_the_type_is_a_change_on_its_line() {
        let text = format!("# c\nhost ssh-ed25519 {OTHER}\n");
        let error = check(&text, "host", 22).unwrap_err();
        assert!(
            matches!(error, HostKeyError::Changed { line: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_cert_authority_is_named_but_never_vouches_for_a_plain_key() {
        let text = format!("@cert-authority *.lan ssh-ed25519 {KEY}\n");
        let error = check(&text, "a.lan", 22).unwrap_err();
        assert!(
            matches!(
                error,
                HostKeyError::Unknown {
                    authority: Some(1),
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("@cert-authority"), "{error}");
    }

    #[test]
    fn malformed_lines_and_unknown_markers_are_skipped() {
        let text = format!("host\n@future host ssh-ed25519 {KEY}\nhost ssh-ed25519 !!!\n");
        assert!(matches!(
            check(&text, "host", 22),
            Err(HostKeyError::Unknown {
                authority: None,
                ..
            })
        ));
    }
}
