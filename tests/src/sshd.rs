//! A real OpenSSH sshd on loopback for one test: its own port, config, throwaway keys and
//! a fresh writable root folder. Several may run at once. As root, logins are as the
//! unprivileged user `ferrytest` (created when missing, shared by every instance); otherwise
//! as the current user.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const SSHD: &str = "/usr/sbin/sshd";
const TEST_USER: &str = "ferrytest";
const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Sshd {
    pub port: u16,
    pub user: String,
    /// The private key authorized to log in as `user`.
    pub key_file: PathBuf,
    /// Holds this server's host key for `[127.0.0.1]:port`.
    pub known_hosts: PathBuf,
    /// A fresh folder owned by `user`, absolute: use it as the SFTP root.
    pub root: PathBuf,
    dir: TempDir,
    process: Child,
}

impl Sshd {
    /// Start a server and wait until it accepts connections.
    pub fn start() -> Sshd {
        Self::start_with("")
    }

    /// Start a server whose SFTP subsystem is `internal-sftp {sftp_flags}`, as partners
    /// configure theirs: `-P rename,posix-rename` refuses renames, `-P setstat,fsetstat`
    /// refuses times, `-R` makes the session read-only.
    pub fn start_with(sftp_flags: &str) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: run tests/servers/ensure-openssh.sh (or tests/run)"
        );
        let user = login_user();
        let dir = tempfile::Builder::new()
            .prefix("ferry-sshd-")
            .tempdir()
            .expect("temp dir");
        // The login user must reach its authorized keys and the root folder.
        set_mode(dir.path(), 0o755);
        let key_file = dir.path().join("user_ed25519");
        keygen(&key_file);
        fs::copy(
            key_file.with_extension("pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        set_mode(&dir.path().join("authorized_keys"), 0o644);
        keygen(&dir.path().join("host_ed25519"));
        let root = dir.path().join("root");
        fs::create_dir(&root).expect("root folder");
        set_mode(&root, 0o755);
        give_to(&root, &user);
        // Privilege separation needs it; only root can create it, and only root needs it.
        let _ = fs::create_dir_all("/run/sshd");

        let (port, process) = spawn_on_free_port(dir.path(), &user, sftp_flags);
        let known_hosts = dir.path().join("known_hosts");
        fs::write(&known_hosts, known_hosts_line(dir.path(), port)).expect("known_hosts");
        Sshd {
            port,
            user,
            key_file,
            known_hosts,
            root,
            dir,
            process,
        }
    }

    /// Hand `path` under the root, and everything below it, to the login user (files a
    /// test puts there as root are then the user's to replace and delete).
    pub fn give(&self, path: &Path) {
        give_to(path, &self.user);
        if path.is_dir() && !path.is_symlink() {
            for entry in fs::read_dir(path).expect("read folder") {
                self.give(&entry.expect("entry").path());
            }
        }
    }

    /// A valid private key that is not authorized.
    pub fn wrong_key(&self) -> PathBuf {
        let file = self.dir.path().join("wrong_ed25519");
        if !file.exists() {
            keygen(&file);
        }
        file
    }

    /// Authorize one more public key (an OpenSSH `.pub` file) for `user`.
    pub fn authorize(&self, public_key: &Path) {
        let key = fs::read_to_string(public_key).expect("public key");
        let mut keys = fs::read_to_string(self.authorized_keys()).expect("authorized_keys");
        keys.push_str(&key);
        fs::write(self.authorized_keys(), keys).expect("authorized_keys");
    }

    fn authorized_keys(&self) -> PathBuf {
        self.dir.path().join("authorized_keys")
    }

    /// Whether `set_password` works: it needs root.
    pub fn supports_passwords() -> bool {
        is_root()
    }

    /// Set the login user's password (sshd here checks it against /etc/shadow). The user is
    /// shared by every `Sshd` of this machine, so tests that use passwords should agree on one.
    pub fn set_password(&self, password: &str) {
        assert!(
            Self::supports_passwords(),
            "password logins need the tests to run as root"
        );
        let hash = output(Command::new("openssl").args(["passwd", "-6", password]));
        retry_locked(|| {
            Command::new("usermod")
                .args(["-p", hash.trim(), &self.user])
                .status()
        });
    }

    /// A `[remotes.NAME]` table of ferry.toml for this server reached at `port`, logging
    /// in with `key` and checking its host key against `known_hosts`.
    pub fn remote_toml(&self, name: &str, port: u16, key: &Path, known_hosts: &Path) -> String {
        format!(
            "[remotes.{name}]\ntype = \"sftp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             user = \"{user}\"\nkey_file = \"{key}\"\nknown_hosts = \"{known_hosts}\"\n\
             root = \"{root}\"\nconnect_timeout = \"10s\"\n",
            user = self.user,
            key = key.display(),
            known_hosts = known_hosts.display(),
            root = self.root.display(),
        )
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The processes serving this server's connections (not the listener itself): stop
    /// them to make the server stall.
    pub fn session_pids(&self) -> Vec<u32> {
        descendants(self.process.id())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let sessions = self.session_pids();
        let _ = self.process.kill();
        let _ = self.process.wait();
        if !sessions.is_empty() {
            let pids: Vec<String> = sessions.iter().map(u32::to_string).collect();
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).trim() == "0"
}

/// `ferrytest` when root (created once per process), the current user otherwise.
fn login_user() -> String {
    static USER: OnceLock<String> = OnceLock::new();
    USER.get_or_init(|| {
        if !is_root() {
            return output(Command::new("id").arg("-un")).trim().to_string();
        }
        if !user_exists(TEST_USER) {
            retry_locked(|| {
                if user_exists(TEST_USER) {
                    return Command::new("true").status();
                }
                Command::new("useradd")
                    .args(["--create-home", "--shell", "/bin/sh", TEST_USER])
                    .status()
            });
        }
        // useradd leaves the password locked ("!"), and sshd without PAM refuses a locked
        // account even for key logins; "*" unlocks it while matching no password.
        if shadow_password(TEST_USER).is_some_and(|hash| hash.starts_with('!')) {
            retry_locked(|| {
                Command::new("usermod")
                    .args(["-p", "*", TEST_USER])
                    .status()
            });
        }
        TEST_USER.to_string()
    })
    .clone()
}

fn user_exists(user: &str) -> bool {
    Command::new("id")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn shadow_password(user: &str) -> Option<String> {
    let shadow = fs::read_to_string("/etc/shadow").ok()?;
    let line = shadow
        .lines()
        .find(|line| line.split(':').next() == Some(user))?;
    line.split(':').nth(1).map(str::to_string)
}

/// Run a user-database command, retrying while another process holds /etc/passwd's lock.
fn retry_locked(mut command: impl FnMut() -> std::io::Result<std::process::ExitStatus>) {
    for _ in 0..50 {
        if command().is_ok_and(|status| status.success()) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    panic!("a user database command kept failing (see its output above)");
}

fn give_to(path: &Path, user: &str) {
    let uid = output(Command::new("id").args(["-u", user]))
        .trim()
        .parse()
        .expect("uid");
    let gid = output(Command::new("id").args(["-g", user]))
        .trim()
        .parse()
        .expect("gid");
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).expect("chown");
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn keygen(file: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ferry-test", "-f"])
        .arg(file)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed for {}", file.display());
}

fn output(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn known_hosts_line(dir: &Path, port: u16) -> String {
    let public = fs::read_to_string(dir.join("host_ed25519.pub")).expect("host key");
    let mut fields = public.split_whitespace();
    let (algorithm, key) = (
        fields.next().expect("algorithm"),
        fields.next().expect("key"),
    );
    format!("[127.0.0.1]:{port} {algorithm} {key}\n")
}

fn write_config(dir: &Path, port: u16, user: &str, sftp_flags: &str) -> PathBuf {
    let d = dir.display();
    let config = format!(
        "ListenAddress 127.0.0.1\n\
         Port {port}\n\
         HostKey {d}/host_ed25519\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         AllowUsers {user}\n\
         StrictModes no\n\
         UsePAM no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication yes\n\
         KbdInteractiveAuthentication no\n\
         Subsystem sftp internal-sftp {sftp_flags}\n\
         LogLevel VERBOSE\n"
    );
    let file = dir.join("sshd_config");
    fs::write(&file, config).expect("sshd_config");
    file
}

/// A free port can be taken by someone else before sshd binds it: then try another.
fn spawn_on_free_port(dir: &Path, user: &str, sftp_flags: &str) -> (u16, Child) {
    let log = dir.join("sshd.log");
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        let config = write_config(dir, port, user, sftp_flags);
        let _ = fs::remove_file(&log);
        let mut process = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .expect("sshd starts");
        if wait_until_listening(&mut process, &log, port) {
            return (port, process);
        }
        let _ = process.kill();
        let _ = process.wait();
        let text = fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.contains("Address already in use"),
            "sshd did not start:\n{text}"
        );
    }
    panic!("sshd found no free port in {START_ATTEMPTS} attempts");
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// True once sshd says it listens; false if it exits first.
fn wait_until_listening(process: &mut Child, log: &Path, port: u16) -> bool {
    let listening = format!("Server listening on 127.0.0.1 port {port}");
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if process.try_wait().expect("sshd status").is_some() {
            return false;
        }
        if fs::read_to_string(log).is_ok_and(|text| text.contains(&listening)) {
            return true;
        }
        sleep(Duration::from_millis(20));
    }
    panic!("sshd did not listen on port {port} within {START_TIMEOUT:?}");
}

/// Every process below `pid`, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // The command name may hold spaces: fields after its closing parenthesis.
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((child, parent))
        })
        .collect();
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(child, _)| *child),
        );
        index += 1;
    }
    found.remove(0);
    found
}
