//! The harness of tests/src/http_servers.rs against the real servers: each starts, takes
//! and gives back an object, and refuses wrong and read-only credentials the way the
//! comments say (observed with Azurite 3.35.0, moto 5.2.6, wsgidav 4.4.0).

use std::time::Instant;

use ferry_tests::http_servers::{Azurite, Moto, WebDav};

#[test]
fn azurite_stores_blobs_and_checks_sas_permissions() {
    let started = Instant::now();
    let azurite = Azurite::start();
    eprintln!("azurite answered after {:?}", started.elapsed());
    assert!(azurite.endpoint.ends_with("/devstoreaccount1"));

    azurite.create_container("box");
    azurite.put_blob("box", "a/b.txt", b"hello azure");
    assert_eq!(azurite.blob_names("box"), ["a/b.txt"]);
    assert_eq!(azurite.blob_bytes("box", "a/b.txt"), b"hello azure");
    assert!(azurite.uncommitted_blocks("box", "a/b.txt").is_empty());

    let full = azurite.sas_token("box", "racwdl");
    assert!(!full.starts_with('?') && full.contains("sig="), "{full}");
    assert_eq!(
        azurite.try_put_blob_with_sas("box", "c.txt", &full, b"by sas"),
        (201, String::new())
    );
    assert_eq!(azurite.blob_bytes("box", "c.txt"), b"by sas");

    // A read-and-list SAS refuses writes: 403 AuthorizationPermissionMismatch.
    let read_only = azurite.sas_token("box", "rl");
    assert_eq!(
        azurite.try_put_blob_with_sas("box", "d.txt", &read_only, b"no"),
        (403, "AuthorizationPermissionMismatch".into())
    );
    // A SAS whose signature is wrong: 403 AuthorizationFailure (the same code Azurite gives
    // a wrong shared key).
    let forged = full.replace("sig=", "sig=AAAA");
    assert_eq!(
        azurite.try_put_blob_with_sas("box", "d.txt", &forged, b"no"),
        (403, "AuthorizationFailure".into())
    );
    assert_eq!(azurite.blob_names("box"), ["a/b.txt", "c.txt"]);
}

#[test]
fn moto_without_auth_takes_any_key() {
    let started = Instant::now();
    let moto = Moto::start();
    eprintln!("moto answered after {:?}", started.elapsed());
    assert_eq!(moto.region, "us-east-1");
    assert!(moto.read_only.is_none());

    moto.create_bucket("bucket");
    moto.put_object("bucket", "dir/one.bin", b"hello s3");
    assert_eq!(moto.keys("bucket"), ["dir/one.bin"]);
    assert_eq!(moto.object_bytes("bucket", "dir/one.bin"), b"hello s3");
    assert!(moto.multipart_uploads("bucket").is_empty());
    assert_eq!(
        moto.try_put_object_as(("anything", "at-all"), "bucket", "two.bin", b"x"),
        (200, String::new())
    );
}

#[test]
fn moto_with_auth_refuses_unknown_and_read_only_keys() {
    let started = Instant::now();
    let moto = Moto::start_with_auth();
    eprintln!("moto with auth ready after {:?}", started.elapsed());
    moto.create_bucket("locked");
    moto.put_object("locked", "one.bin", b"admin wrote");
    assert_eq!(moto.keys("locked"), ["one.bin"]);

    // Unknown access key id: 403 InvalidAccessKeyId.
    assert_eq!(
        moto.try_put_object_as(("AKIAUNKNOWNKEY000000", "nope"), "locked", "x", b"x"),
        (403, "InvalidAccessKeyId".into())
    );
    // The admin's key id with a wrong secret: 403 SignatureDoesNotMatch.
    assert_eq!(
        moto.try_put_object_as((&moto.access_key_id, "wrong-secret"), "locked", "x", b"x"),
        (403, "SignatureDoesNotMatch".into())
    );
    // The read-only user lists and reads, but may not write: 403 AccessDenied.
    let (id, secret) = moto.read_only.clone().expect("read-only user");
    assert_eq!(moto.keys_as((&id, &secret), "locked"), ["one.bin"]);
    assert_eq!(
        moto.object_bytes_as((&id, &secret), "locked", "one.bin"),
        b"admin wrote"
    );
    assert_eq!(
        moto.try_put_object_as((&id, &secret), "locked", "x", b"x"),
        (403, "AccessDenied".into())
    );
    assert_eq!(moto.keys("locked"), ["one.bin"]);
}

#[test]
fn webdav_serves_its_root_with_basic_auth() {
    let started = Instant::now();
    let dav = WebDav::start();
    eprintln!("wsgidav answered after {:?}", started.elapsed());
    assert_eq!(dav.url, format!("http://127.0.0.1:{}/", dav.port));

    std::fs::write(dav.root.join("put-by-test.txt"), b"from disk").unwrap();
    assert_eq!(
        dav.request("GET", "put-by-test.txt", b""),
        (200, "from disk".into())
    );

    assert_eq!(dav.request("PUT", "new.txt", b"over http").0, 201);
    assert_eq!(
        std::fs::read(dav.root.join("new.txt")).unwrap(),
        b"over http"
    );
    // Overwriting an existing file: 204 No Content.
    assert_eq!(dav.request("PUT", "new.txt", b"again").0, 204);

    // PUT into a folder that does not exist: 409 Conflict ("PUT parent must be a
    // collection"); MKCOL first, then it works.
    let (status, body) = dav.request("PUT", "missing/file.txt", b"x");
    assert_eq!(status, 409, "{body}");
    assert_eq!(dav.request("MKCOL", "missing", b"").0, 201);
    assert_eq!(dav.request("PUT", "missing/file.txt", b"x").0, 201);
    assert_eq!(dav.request("PROPFIND", "missing", b"").0, 207);

    // Wrong password, and no credentials at all: 401.
    assert_eq!(
        dav.request_as("ferry", "wrong", "GET", "new.txt", b"").0,
        401
    );
    assert_eq!(dav.request_as("", "", "GET", "new.txt", b"").0, 401);
    assert_eq!(
        dav.request_as("ferry", "wrong", "PUT", "x.txt", b"x").0,
        401
    );
    assert!(!dav.root.join("x.txt").exists());
}

#[test]
fn webdav_read_only_refuses_writes() {
    let started = Instant::now();
    let dav = WebDav::start_read_only();
    eprintln!("read-only wsgidav answered after {:?}", started.elapsed());
    std::fs::write(dav.root.join("there.txt"), b"readable").unwrap();
    assert_eq!(
        dav.request("GET", "there.txt", b""),
        (200, "readable".into())
    );
    // Writes with the right credentials: 403 Forbidden.
    assert_eq!(dav.request("PUT", "new.txt", b"x").0, 403);
    assert_eq!(dav.request("DELETE", "there.txt", b"").0, 403);
    assert_eq!(dav.request("MKCOL", "folder", b"").0, 403);
    assert!(!dav.root.join("new.txt").exists());
    assert!(dav.root.join("there.txt").exists());
}
