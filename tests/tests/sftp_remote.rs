//! The SFTP transport against a real OpenSSH sshd on loopback
//! (tests/servers/ensure-openssh.sh installs it).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ferry::config::{Secret, SftpAuth, SftpConfig};
use ferry::plugin::{ErrorCode, Operation};
use ferry::remote::sftp::SftpRemote;
use ferry::remote::{Kind, Listed, Remote, RemoteEntry, RemoteError};
use ferry_tests::noise;
use ferry_tests::sshd::Sshd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MB: usize = 1024 * 1024;

fn config(sshd: &Sshd) -> SftpConfig {
    SftpConfig {
        host: "127.0.0.1".to_string(),
        port: sshd.port,
        user: sshd.user.clone(),
        auth: SftpAuth::Key {
            file: sshd.key_file.clone(),
            passphrase: None,
        },
        known_hosts: sshd.known_hosts.clone(),
        root: sshd.root.to_str().expect("utf-8 root").to_string(),
        bind_address: None,
        connect_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
    }
}

async fn connect(sshd: &Sshd) -> SftpRemote {
    match SftpRemote::connect(&config(sshd)).await {
        Ok(remote) => remote,
        Err(error) => panic!("connect: {error:?}\nsshd log:\n{}", sshd.log()),
    }
}

async fn connect_error(config: &SftpConfig) -> RemoteError {
    match SftpRemote::connect(config).await {
        Ok(_) => panic!("connected, but should not have"),
        Err(error) => error,
    }
}

async fn write(remote: &SftpRemote, path: &str, offset: u64, data: &[u8]) {
    let mut writer = remote.write(path, offset).await.expect("open for writing");
    writer.write_all(data).await.expect("write");
    writer.shutdown().await.expect("close");
}

async fn read(remote: &SftpRemote, path: &str, offset: u64) -> Vec<u8> {
    let mut reader = remote.read(path, offset).await.expect("open for reading");
    let mut data = Vec::new();
    reader.read_to_end(&mut data).await.expect("read");
    data
}

/// Entries by path, and the paths that could not be listed.
async fn list(remote: &SftpRemote) -> (BTreeMap<String, RemoteEntry>, Vec<String>) {
    let mut entries = BTreeMap::new();
    let mut unlisted = Vec::new();
    remote
        .list(&mut |listed| match listed {
            Listed::Entry(entry) => {
                entries.insert(entry.path.clone(), entry);
            }
            Listed::Unlisted { path, .. } => unlisted.push(path),
            // Skipped links and refused names: tests/tests/safety.rs.
            Listed::Refused { .. } | Listed::Skipped { .. } => {}
        })
        .await
        .expect("list");
    (entries, unlisted)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn keygen(file: &Path, passphrase: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-f"])
        .arg(file)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_with_a_key_from_loopback() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    assert_eq!(remote.local_address().ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(remote.stat("nothing-here").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_with_a_passphrase_protected_key() {
    let sshd = Sshd::start();
    let key = sshd.root.parent().unwrap().join("locked_ed25519");
    keygen(&key, "open sesame");
    sshd.authorize(&key.with_extension("pub"));
    let passphrase = |text: &str| Some(Secret::new(text.to_string()));

    let with = SftpAuth::Key {
        file: key.clone(),
        passphrase: passphrase("open sesame"),
    };
    SftpRemote::connect(&SftpConfig {
        auth: with,
        ..config(&sshd)
    })
    .await
    .expect("connect");

    let without = SftpAuth::Key {
        file: key.clone(),
        passphrase: None,
    };
    let error = connect_error(&SftpConfig {
        auth: without,
        ..config(&sshd)
    })
    .await;
    assert_eq!(error.operation, Operation::Authenticate);
    assert!(error.message.contains("encrypted"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_with_a_password_and_refuses_a_wrong_one() {
    if !Sshd::supports_passwords() {
        eprintln!("skipped: password logins need the tests to run as root");
        return;
    }
    let sshd = Sshd::start();
    sshd.set_password("ferry-test-password");
    let password = |text: &str| SftpAuth::Password(Secret::new(text.to_string()));

    let right = SftpConfig {
        auth: password("ferry-test-password"),
        ..config(&sshd)
    };
    SftpRemote::connect(&right)
        .await
        .expect("connect with the password");

    let wrong = SftpConfig {
        auth: password("not-it"),
        ..config(&sshd)
    };
    let error = connect_error(&wrong).await;
    assert_eq!(error.operation, Operation::Authenticate);
    assert!(
        error.message.contains(&sshd.user) && error.message.contains("password"),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_a_nested_tree_and_goes_on_past_an_unreadable_folder() {
    let sshd = Sshd::start();
    let root = &sshd.root;
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::create_dir_all(root.join("ünïcødé/日本語")).unwrap();
    std::fs::create_dir(root.join("empty-folder")).unwrap();
    std::fs::create_dir(root.join("locked")).unwrap();
    std::fs::write(root.join("locked/hidden"), b"x").unwrap();
    std::fs::write(root.join("a/b/c/deep.txt"), b"deep").unwrap();
    std::fs::write(root.join("ünïcødé/日本語/ファイル.csv"), b"1,2,3\n").unwrap();
    std::fs::write(root.join("zero.bin"), b"").unwrap();
    std::fs::write(root.join("a/zero"), b"").unwrap();
    symlink("a/b/c/deep.txt", root.join("link-to-file")).unwrap();
    symlink("a", root.join("link-to-folder")).unwrap();
    symlink("missing", root.join("dangling")).unwrap();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    std::fs::File::options()
        .write(true)
        .open(root.join("a/b/c/deep.txt"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    // Mode 000 and owned by root: the login user cannot read it (unless it is root itself).
    set_mode(&root.join("locked"), 0o000);

    let remote = connect(&sshd).await;
    let (entries, unlisted) = list(&remote).await;
    // So that the temporary folder can be removed when not running as root.
    set_mode(&root.join("locked"), 0o755);

    let kinds: Vec<(&str, Kind, u64)> = entries
        .values()
        .map(|entry| (entry.path.as_str(), entry.kind, entry.size))
        .collect();
    assert_eq!(
        kinds,
        [
            ("a", Kind::Directory, 0),
            ("a/b", Kind::Directory, 0),
            ("a/b/c", Kind::Directory, 0),
            ("a/b/c/deep.txt", Kind::File, 4),
            ("a/zero", Kind::File, 0),
            ("empty-folder", Kind::Directory, 0),
            ("link-to-file", Kind::File, 4),
            ("locked", Kind::Directory, 0),
            ("zero.bin", Kind::File, 0),
            ("ünïcødé", Kind::Directory, 0),
            ("ünïcødé/日本語", Kind::Directory, 0),
            ("ünïcødé/日本語/ファイル.csv", Kind::File, 6),
        ]
    );
    assert_eq!(entries["a/b/c/deep.txt"].mtime, Some(mtime));
    assert_eq!(unlisted, ["locked"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_folders_of_many_entries() {
    let sshd = Sshd::start();
    let mut expected = Vec::new();
    for folder in 0..20 {
        let folder = format!("folder-{folder:02}");
        std::fs::create_dir(sshd.root.join(&folder)).unwrap();
        expected.push(folder.clone());
        // OpenSSH answers a directory read with at most 100 names: one folder needs several.
        let files = if folder == "folder-00" { 250 } else { 30 };
        for file in 0..files {
            let path = format!("{folder}/file-{file:03}.txt");
            std::fs::write(sshd.root.join(&path), b"").unwrap();
            expected.push(path);
        }
    }
    expected.sort();

    let remote = connect(&sshd).await;
    let (entries, unlisted) = list(&remote).await;

    assert_eq!(entries.into_keys().collect::<Vec<_>>(), expected);
    assert!(unlisted.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_root_is_refused_at_connect_naming_it() {
    let sshd = Sshd::start();
    let missing_root = format!("{}/missing", sshd.root.display());
    let error = connect_error(&SftpConfig {
        root: missing_root.clone(),
        ..config(&sshd)
    })
    .await;
    assert_eq!(error.operation, Operation::List);
    assert_eq!(error.code, Some(ErrorCode::SftpStatus(2)), "{error:?}");
    let named = format!("the remote root {missing_root} does not exist");
    assert!(error.message.contains(&named), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_continue_at_an_offset_and_reads_start_at_one() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;

    write(&remote, "resume.txt", 0, b"hello ").await;
    write(&remote, "resume.txt", 6, b"world").await;
    assert_eq!(
        std::fs::read(sshd.root.join("resume.txt")).unwrap(),
        b"hello world"
    );
    assert_eq!(read(&remote, "resume.txt", 6).await, b"world");
    assert_eq!(remote.stat("resume.txt").await.unwrap().unwrap().size, 11);

    write(&remote, "resume.txt", 0, b"new").await;
    assert_eq!(
        read(&remote, "resume.txt", 0).await,
        b"new",
        "offset 0 truncates"
    );

    let error = remote
        .write("resume.txt", 100)
        .await
        .err()
        .expect("past the end is refused");
    assert_eq!(error.operation, Operation::Write);
    let error = remote
        .write("missing.txt", 5)
        .await
        .err()
        .expect("nothing to continue");
    assert_eq!(error.code, Some(ErrorCode::SftpStatus(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_replaces_an_existing_file() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    write(&remote, "upload.tmp", 0, b"new contents").await;
    write(&remote, "final.csv", 0, b"old").await;

    remote
        .rename("upload.tmp", "final.csv")
        .await
        .expect("rename");

    assert_eq!(read(&remote, "final.csv", 0).await, b"new contents");
    assert_eq!(remote.stat("upload.tmp").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mkdir_all_creates_deep_folders_and_accepts_existing_ones() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    remote
        .mkdir_all("one/two/three/four/five")
        .await
        .expect("mkdir_all");
    remote
        .mkdir_all("one/two/three/four/five")
        .await
        .expect("again");
    remote.mkdir_all("one/two/other").await.expect("a sibling");
    assert!(sshd.root.join("one/two/three/four/five").is_dir());
    assert!(sshd.root.join("one/two/other").is_dir());

    write(&remote, "one/file", 0, b"x").await;
    let error = remote.mkdir_all("one/file/below").await.unwrap_err();
    assert_eq!(
        (error.operation, error.path.as_deref()),
        (Operation::Mkdir, Some("one/file"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_a_file_and_an_empty_folder() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    remote.mkdir_all("folder").await.unwrap();
    write(&remote, "folder/file", 0, b"x").await;

    let error = remote.delete("folder", Kind::Directory).await.unwrap_err();
    assert!(
        matches!(error.code, Some(ErrorCode::SftpStatus(_))),
        "not empty: {error:?}"
    );

    remote
        .delete("folder/file", Kind::File)
        .await
        .expect("delete the file");
    remote
        .delete("folder", Kind::Directory)
        .await
        .expect("delete the folder");
    assert_eq!(remote.stat("folder").await.unwrap(), None);
    assert!(!sshd.root.join("folder").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_mtime_shows_in_stat() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    write(&remote, "dated.txt", 0, b"x").await;
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890);

    assert!(
        remote
            .set_mtime("dated.txt", mtime)
            .await
            .expect("set_mtime")
    );

    assert_eq!(
        remote.stat("dated.txt").await.unwrap().unwrap().mtime,
        Some(mtime)
    );
    assert_eq!(
        std::fs::metadata(sshd.root.join("dated.txt"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_writes_whole_files_with_their_mtime() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    // Empty, one write, and several writes (OpenSSH takes at most 255 KiB per write).
    let files = [
        ("empty.txt", Vec::new()),
        ("small.txt", noise(1000, 7)),
        ("pieces.bin", noise(MB - 1, 8)),
    ];
    // A longer file of the same name is truncated, not overwritten in part.
    remote
        .put("small.txt", vec![b'x'; 5000], None)
        .await
        .unwrap();

    for (path, data) in &files {
        remote
            .put(path, data.clone(), Some(mtime))
            .await
            .unwrap_or_else(|e| panic!("put {path}: {e:?}"));
    }

    for (path, data) in &files {
        let local = sshd.root.join(path);
        assert!(std::fs::read(&local).unwrap() == *data, "{path} differs");
        assert_eq!(
            std::fs::metadata(&local).unwrap().modified().unwrap(),
            mtime
        );
        let expected = data.len() as u64;
        assert!(
            remote.get(path, expected).await.unwrap() == *data,
            "{path} reads back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_into_a_read_only_folder_fails_as_a_write_with_the_server_status() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    // Made by the test, not the login user, and writable by nobody.
    std::fs::create_dir(sshd.root.join("locked")).unwrap();
    set_mode(&sshd.root.join("locked"), 0o555);

    let error = remote
        .put("locked/file.txt", b"data".to_vec(), None)
        .await
        .expect_err("a read-only folder refuses the file");

    assert_eq!(error.operation, Operation::Write);
    assert_eq!(error.path.as_deref(), Some("locked/file.txt"));
    assert_eq!(error.code, Some(ErrorCode::SftpStatus(3)), "{error:?}");
    assert!(!sshd.root.join("locked/file.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_reads_one_byte_past_the_expected_length() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    std::fs::write(sshd.root.join("grew.txt"), b"0123456789").unwrap();

    assert_eq!(remote.get("grew.txt", 4).await.unwrap(), b"01234");
    assert_eq!(remote.get("grew.txt", 20).await.unwrap(), b"0123456789");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_writes_over_one_connection() {
    let sshd = Sshd::start();
    let remote = Arc::new(connect(&sshd).await);
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|index| (format!("parallel-{index}.bin"), noise(5 * MB, index + 1)))
        .collect();

    let transfers: Vec<_> = files
        .iter()
        .cloned()
        .map(|(path, data)| {
            let remote = remote.clone();
            tokio::spawn(async move { write(&remote, &path, 0, &data).await })
        })
        .collect();
    for transfer in transfers {
        transfer.await.expect("transfer task");
    }

    for (path, data) in &files {
        assert!(
            std::fs::read(sshd.root.join(path)).unwrap() == *data,
            "{path} differs"
        );
        assert!(
            read(&remote, path, 0).await == *data,
            "{path} reads back differently"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_leave_the_root_are_refused_before_sending() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    for path in [
        "../escape.txt",
        "a/../../escape.txt",
        "/tmp/escape.txt",
        "a//b",
        "",
    ] {
        let error = remote
            .write(path, 0)
            .await
            .err()
            .unwrap_or_else(|| panic!("{path:?} accepted"));
        assert_eq!(
            (error.operation, error.code),
            (Operation::Write, None),
            "{path:?}"
        );
        assert!(error.message.contains("refused"), "{error:?}");
    }
    assert!(remote.stat("..").await.is_err());
    assert!(remote.rename("ok", "../../etc/passwd").await.is_err());
    assert!(!sshd.root.parent().unwrap().join("escape.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_refused_with_advice() {
    let sshd = Sshd::start();
    std::fs::write(&sshd.known_hosts, "").unwrap();

    let error = connect_error(&config(&sshd)).await;

    assert_eq!(error.operation, Operation::Connect);
    let advice = format!(
        "ssh-keyscan -p {} 127.0.0.1 >> {}",
        sshd.port,
        sshd.known_hosts.display()
    );
    assert!(error.message.contains(&advice), "{}", error.message);
    assert!(
        error
            .message
            .contains(&format!("[127.0.0.1]:{}", sshd.port)),
        "{}",
        error.message
    );
    assert!(error.message.contains("SHA256:"), "{}", error.message);
    assert_eq!(error.local_address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_refused_with_a_warning() {
    let sshd = Sshd::start();
    let other_key = std::fs::read_to_string(sshd.wrong_key().with_extension("pub")).unwrap();
    let mut fields = other_key.split_whitespace();
    let (algorithm, key) = (fields.next().unwrap(), fields.next().unwrap());
    std::fs::write(
        &sshd.known_hosts,
        format!("# pinned\n[127.0.0.1]:{} {algorithm} {key}\n", sshd.port),
    )
    .unwrap();

    let error = connect_error(&config(&sshd)).await;

    assert_eq!(error.operation, Operation::Connect);
    assert!(
        error.message.starts_with("WARNING: the host key"),
        "{}",
        error.message
    );
    assert!(error.message.contains("line 2 of"), "{}", error.message);
    assert!(error.message.contains("SHA256:"), "{}", error.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_authorized_fails_authentication() {
    let sshd = Sshd::start();
    let wrong = SftpAuth::Key {
        file: sshd.wrong_key(),
        passphrase: None,
    };

    let error = connect_error(&SftpConfig {
        auth: wrong,
        ..config(&sshd)
    })
    .await;

    assert_eq!(error.operation, Operation::Authenticate);
    assert!(
        error.message.contains(&format!("\"{}\"", sshd.user)),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains(&sshd.wrong_key().display().to_string()),
        "{}",
        error.message
    );
    assert!(error.local_address.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_connect_error_with_errno() {
    let sshd = Sshd::start();
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let error = connect_error(&SftpConfig {
        port: closed_port,
        ..config(&sshd)
    })
    .await;

    assert_eq!(error.operation, Operation::Connect);
    assert_eq!(error.code, Some(ErrorCode::Errno(111)), "{error:?}");
    assert_eq!(error.local_address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_greets_times_out() {
    let sshd = Sshd::start();
    // Accepted by the kernel, never answered: like a firewall that drops after connecting.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let connect_timeout = Duration::from_secs(1);
    let silent_config = SftpConfig {
        port: silent.local_addr().unwrap().port(),
        connect_timeout,
        ..config(&sshd)
    };

    let started = Instant::now();
    let error = connect_error(&silent_config).await;

    assert!(
        started.elapsed() < connect_timeout * 3,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(error.operation, Operation::Connect);
    assert_eq!(error.code, Some(ErrorCode::Errno(110)), "{error:?}");
    assert_eq!(error.local_address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaves_from_the_bind_address() {
    let sshd = Sshd::start();
    let bind = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let remote = SftpRemote::connect(&SftpConfig {
        bind_address: Some(bind),
        ..config(&sshd)
    })
    .await
    .unwrap();
    assert_eq!(remote.local_address().ip(), bind);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_fails_operations_after_the_idle_timeout() {
    let sshd = Sshd::start();
    let idle_timeout = Duration::from_secs(2);
    let remote = SftpRemote::connect(&SftpConfig {
        idle_timeout,
        ..config(&sshd)
    })
    .await
    .unwrap();
    let sessions: Vec<String> = sshd.session_pids().iter().map(u32::to_string).collect();
    assert!(!sessions.is_empty());
    let signal = |name: &str| {
        Command::new("kill")
            .arg(name)
            .args(&sessions)
            .status()
            .unwrap()
    };
    signal("-STOP");

    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), remote.stat("anything")).await;
    signal("-CONT");

    let error = result
        .expect("stat must not hang")
        .expect_err("a stalled server cannot answer");
    assert_eq!(error.operation, Operation::Stat);
    assert!(
        started.elapsed() < idle_timeout * 3,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_fails_operations_naming_it() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    let sessions: Vec<String> = sshd.session_pids().iter().map(u32::to_string).collect();
    Command::new("kill")
        .arg("-KILL")
        .args(&sessions)
        .status()
        .unwrap();

    let error = remote
        .stat("anything")
        .await
        .expect_err("no server to answer");

    assert_eq!(
        (error.operation, error.path.as_deref()),
        (Operation::Stat, Some("anything"))
    );
    assert!(error.message.contains("SSH connection"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_connection_outlives_the_idle_timeout() {
    let sshd = Sshd::start();
    let idle_timeout = Duration::from_secs(1);
    let remote = SftpRemote::connect(&SftpConfig {
        idle_timeout,
        ..config(&sshd)
    })
    .await
    .unwrap();
    tokio::time::sleep(idle_timeout * 3).await;
    assert_eq!(
        remote
            .stat("anything")
            .await
            .expect("keepalives kept it open"),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_round_trip() {
    let sshd = Sshd::start();
    let remote = connect(&sshd).await;
    let data = noise(50 * MB, 42);

    let started = Instant::now();
    write(&remote, "big.bin", 0, &data).await;
    let write_time = started.elapsed();
    let started = Instant::now();
    let read_back = read(&remote, "big.bin", 0).await;
    let read_time = started.elapsed();

    assert!(read_back == data, "50 MB read back differently");
    let rate = |time: Duration| 50.0 / time.as_secs_f64();
    println!(
        "50 MB: write {:.1} MB/s, read {:.1} MB/s",
        rate(write_time),
        rate(read_time)
    );
}
