//! Profile secrets in real OS keyrings: `stowage login`, `profile add|show|rm`, the keyring
//! before the environment, and planted secrets that must never show in output, logs, config,
//! catalog or cache. Every keyring test runs once per Linux backend (`STOWAGE_KEYRING` set per
//! sandbox), so one run covers the Secret Service (GNOME Keyring) and the kernel's keyutils.
//! Run inside both stores:
//!
//! ```sh
//! source scripts/lib/keyring.sh
//! with_keyrings cargo test -p stowage --test secrets
//! ```

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

const BACKENDS: [&str; 2] = ["secret-service", "keyutils"];

/// One keyring test at a time in this binary: GNOME Keyring has dropped off the private bus
/// ("Message recipient disconnected") when two tests' CLI runs created and searched items
/// at once; the product never does that, so the tests take turns.
static KEYRING_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const HOW_TO_RUN: &str = "run the keyring tests inside real stores: `source \
     scripts/lib/keyring.sh; with_keyrings cargo test -p stowage --test secrets` (needs the \
     gnome-keyring, dbus and keyutils packages); scripts/test does this";

fn planted() -> String {
    format!("PLANTED-SECRET-{}", unique("x").replace('-', ""))
}

/// Run with `input` on standard input.
fn run_stdin(sb: &Sandbox, args: &[&str], input: &str) -> Run {
    let mut child = sb
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().into()
}

/// `stowage login --stdin`, failing with how to provide a keyring when none answers.
#[track_caller]
fn login(sb: &Sandbox, profile: &str, input: &str) -> Run {
    let run = run_stdin(sb, &["login", "--stdin", "--profile", profile], input);
    assert!(
        run.code == 0,
        "login into the {} keyring failed; {HOW_TO_RUN}: {run:?}",
        keyring_of(sb)
    );
    run
}

fn keyring_of(sb: &Sandbox) -> String {
    sb.vars
        .iter()
        .rev()
        .find(|(k, _)| k == "STOWAGE_KEYRING")
        .map_or("default".to_string(), |(_, v)| v.clone())
}

/// Removes test profiles (and so their keyring entries) even when a test fails.
struct ProfileGuard<'a> {
    sb: &'a Sandbox,
    names: Vec<String>,
}

impl Drop for ProfileGuard<'_> {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.sb.run(&["profile", "rm", n]);
        }
    }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for rel in store_tree(dir) {
        let bytes = std::fs::read(dir.join(&rel)).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            hits.push(rel);
        }
    }
    hits
}

/// Temporary files (spooled uploads, archives) go inside the sandbox, so the search for
/// secrets covers whatever of them is left.
fn sandbox_tmpdir(sb: &mut Sandbox) {
    let tmp = sb.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    sb.env("TMPDIR", tmp.to_str().unwrap());
}

/// Positive control for a search of logs: trace logging is on and wrote lines (a secret in
/// a request's headers would be in them), so logs without secrets mean something.
#[track_caller]
fn assert_traced(runs: &[Run]) {
    let traced = runs
        .iter()
        .flat_map(|r| r.stderr.lines())
        .filter(|l| l.contains("TRACE"))
        .count();
    assert!(
        traced > 0,
        "no command logged at trace level, so the logs were not searched: {runs:?}"
    );
}

#[track_caller]
fn assert_no_leak(sb: &Sandbox, runs: &[Run], secrets: &[&str]) {
    for secret in secrets {
        for run in runs {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret appeared in the output: {run:?}"
            );
        }
        let hits = files_containing(sb.dir.path(), secret);
        assert!(
            hits.is_empty(),
            "a secret was written to files of the sandbox: {hits:?}"
        );
    }
}

fn s3_secret() -> (String, String) {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    (
        var("STOWAGE_TEST_S3_ACCESS_KEY", "testak"),
        var("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123"),
    )
}

/// The S3 flow with the secret only in the keyring (no AWS_* anywhere), every command's
/// output, logs at trace level and every file of the sandbox searched for it; a wrong
/// planted secret and an unreachable endpoint fail without showing it; `profile rm` takes
/// the entries out of the keyring.
#[test]
fn s3_login_then_transfers_with_the_secret_only_in_the_keyring() {
    let _turn = KEYRING_TURN.blocking_lock();
    let endpoint = s3_endpoint();
    let (ak, sk) = s3_secret();
    for backend in BACKENDS {
        let mut sb = Sandbox::new();
        // Every log on, for every command.
        sb.env("STOWAGE_KEYRING", backend)
            .env("STOWAGE_LOG", "trace")
            .env("RUST_LOG", "trace");
        sandbox_tmpdir(&mut sb);
        let good = unique("kr-s3");
        let wrong = unique("kr-wrong");
        let down = unique("kr-down");
        let _profiles = ProfileGuard {
            sb: &sb,
            names: vec![good.clone(), wrong.clone(), down.clone()],
        };
        let bucket = unique("stowage-kr");
        // A comment and a [sync] section that `profile add` must keep.
        sb.write_config(&format!(
            "# team settings, keep me\n[sync]\nbucket = \"{bucket}\"  # where sync goes\n"
        ));
        let mut runs = Vec::new();
        runs.push(
            sb.run(&[
                "profile",
                "add",
                &good,
                "--kind",
                "s3",
                "--endpoint",
                &endpoint,
                "--region",
                "us-east-1",
                "--path-style",
                "--default",
            ])
            .ok(),
        );
        let text = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
        assert!(
            text.contains("# team settings, keep me") && text.contains("# where sync goes"),
            "{text}"
        );

        // Before login: the AWS chain, which has nothing here.
        let doc = sb.run(&["--json", "profile", "show", &good]).ok().json();
        assert_eq!(
            doc["credentials"]["fields"][0]["origin"], "aws_chain",
            "{doc}"
        );

        let run = login(&sb, &good, &format!("{ak}\n{sk}\n"));
        let expected_place = if backend == "keyutils" {
            "kernel keyring"
        } else {
            "Secret Service"
        };
        assert!(
            run.stdout.contains(expected_place)
                && run.stdout.contains(&format!("{good}/secret_access_key")),
            "{run:?}"
        );
        runs.push(run);

        let _bucket = BucketGuard {
            sb: &sb,
            bucket: bucket.clone(),
        };
        runs.push(sb.run(&["buckets", "create", &bucket]).ok());
        let content = data(300_000, 7);
        std::fs::write(sb.work("weights.bin"), &content).unwrap();
        let object = format!("{bucket}/models/weights.bin");
        runs.push(
            sb.run(&["--json", "put", "weights.bin", &format!("{bucket}/models/")])
                .ok(),
        );
        runs.push(sb.run(&["ls", "--recursive", &bucket]).ok());
        runs.push(sb.run(&["--json", "get", &object, "back.bin"]).ok());
        assert!(std::fs::read(sb.work("back.bin")).unwrap() == content);
        runs.push(sb.run(&["url", &object]).ok());
        std::fs::create_dir_all(sb.work("proj")).unwrap();
        std::fs::write(
            sb.work("proj/model-a-v1.json"),
            format!("{{\"accuracy\":0.9,\"w\":\"{}\"}}", "x".repeat(200_000)),
        )
        .unwrap();
        runs.push(sb.run(&["--json", "sync", "proj"]).ok());
        runs.push(sb.run(&["cost"]).ok());
        runs.push(sb.run(&["--json", "cost"]).ok());
        runs.push(sb.run(&["profile", "ls"]).ok());
        let show = sb.run(&["profile", "show"]).ok();
        assert!(
            show.stdout
                .contains(&format!("secret_access_key: set in the {expected_place}")),
            "{show:?}"
        );
        runs.push(show);
        let doc = sb.run(&["--json", "profile", "show"]).ok();
        let json = doc.json();
        assert_eq!(json["credentials"]["keyring"], backend, "{json}");
        assert_eq!(
            json["credentials"]["fields"][1]["field"],
            "secret_access_key"
        );
        assert_eq!(json["credentials"]["fields"][1]["origin"], "keyring");
        runs.push(doc);

        // The keyring comes before the environment: wrong AWS_* values change nothing.
        let run: Run = sb
            .command(&["ls", &bucket])
            .env("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG")
            .env("AWS_SECRET_ACCESS_KEY", "wrong-secret-from-env")
            .output()
            .unwrap()
            .into();
        let run = run.ok();
        assert!(run.stdout.contains("models/"), "{run:?}");
        runs.push(run);

        // A wrong planted secret: unauthorized, the hint names the keyring and `login`.
        let plant = planted();
        runs.push(
            sb.run(&[
                "profile",
                "add",
                &wrong,
                "--kind",
                "s3",
                "--endpoint",
                &endpoint,
                "--path-style",
            ])
            .ok(),
        );
        runs.push(login(&sb, &wrong, &format!("{ak}\n{plant}\n")));
        let run = sb.run(&["--profile", &wrong, "ls", &bucket]).code(5);
        assert!(
            run.stderr
                .contains(&format!("stowage login --profile {wrong}"))
                && run.stderr.contains("keyring"),
            "{run:?}"
        );
        runs.push(run);
        runs.push(sb.run(&["--json", "--profile", &wrong, "ls"]).code(5));
        // An unreachable endpoint with the planted secret.
        runs.push(
            sb.run(&[
                "profile",
                "add",
                &down,
                "--kind",
                "s3",
                "--endpoint",
                "http://127.0.0.1:1",
                "--path-style",
            ])
            .ok(),
        );
        runs.push(login(&sb, &down, &format!("{ak}\n{plant}\n")));
        runs.push(sb.run(&["--profile", &down, "ls"]).code(6));
        runs.push(
            sb.run(&["--json", "--profile", &down, "put", "weights.bin", "b-x/"])
                .code(6),
        );

        assert!(
            sb.path("data/catalog.sqlite3").is_file(),
            "the catalog should exist, so its bytes are searched too"
        );
        // Positive controls: the search finds what is there (the endpoint in the config,
        // the profile's name in the catalog), so finding no secret means something.
        assert!(files_containing(&sb.path("config"), &endpoint).len() == 1);
        assert!(files_containing(&sb.path("data"), &good)
            .iter()
            .any(|f| f.starts_with("catalog.sqlite3")));
        assert_traced(&runs);
        assert_no_leak(&sb, &runs, &[&sk, &plant]);

        // `profile rm` takes the entries out of the keyring: a new profile of the same name
        // finds none.
        let doc = sb.run(&["--json", "profile", "rm", &wrong]).ok().json();
        let entries = doc["keyring_entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{doc}");
        assert!(entries.iter().all(|e| e["keyring"] == backend), "{doc}");
        sb.run(&["profile", "add", &wrong, "--kind", "s3"]).ok();
        let doc = sb.run(&["--json", "profile", "show", &wrong]).ok().json();
        assert_eq!(
            doc["credentials"]["fields"][0]["origin"], "aws_chain",
            "{doc}"
        );
    }
}

/// Supabase: the service-role key only in the keyring (an environment key is ignored while
/// the keyring has one), a planted wrong key refused without showing it, `--anon` replacing
/// the service-role entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supabase_login_uses_the_keyring_before_the_environment() {
    let _turn = KEYRING_TURN.lock().await;
    let (_server_dir, server) = contract_server().await;
    let key = server.service_role_key.clone();
    for backend in BACKENDS {
        let mut sb = Sandbox::new();
        // A planted key in the environment, which must not win over the keyring.
        let env_key = planted();
        sb.env("STOWAGE_KEYRING", backend)
            .env("STOWAGE_LOG", "trace")
            .env("SUPABASE_SERVICE_ROLE_KEY", &env_key);
        sandbox_tmpdir(&mut sb);
        let team = unique("kr-team");
        let _profiles = ProfileGuard {
            sb: &sb,
            names: vec![team.clone()],
        };
        let mut runs = Vec::new();
        runs.push(
            sb.run_async(&[
                "profile",
                "add",
                &team,
                "--kind",
                "supabase",
                "--url",
                &server.url,
                "--default",
            ])
            .await
            .ok(),
        );
        // No key yet: unauthorized, naming `login` and the variable.
        let mut cmd = tokio::process::Command::from(sb.command(&["ls"]));
        cmd.env_remove("SUPABASE_SERVICE_ROLE_KEY");
        let run: Run = cmd.output().await.unwrap().into();
        let run = run.code(5);
        assert!(
            run.stderr
                .contains(&format!("stowage login --profile {team}"))
                && run.stderr.contains("SUPABASE_SERVICE_ROLE_KEY"),
            "{run:?}"
        );
        runs.push(login(&sb, &team, &format!("{key}\n")));
        let bucket = unique("kr");
        runs.push(sb.run_async(&["buckets", "create", &bucket]).await.ok());
        std::fs::write(sb.work("a.csv"), data(10_000, 1)).unwrap();
        runs.push(
            sb.run_async(&["--json", "put", "a.csv", &format!("{bucket}/d/")])
                .await
                .ok(),
        );
        runs.push(sb.run_async(&["ls", "-r", &bucket]).await.ok());
        runs.push(
            sb.run_async(&["url", &format!("{bucket}/d/a.csv")])
                .await
                .ok(),
        );
        let doc = sb.run_async(&["--json", "profile", "show"]).await.ok();
        let json = doc.json();
        let fields = json["credentials"]["fields"].as_array().unwrap();
        assert!(
            fields
                .iter()
                .any(|f| f["field"] == "service_role_key" && f["origin"] == "keyring"),
            "{json}"
        );
        runs.push(doc);

        // A planted wrong key replaces it: refused, not shown, the hint names `login`.
        let plant = planted();
        runs.push(login(&sb, &team, &format!("{plant}\n")));
        let run = sb.run_async(&["ls", &bucket]).await.code(5);
        assert!(
            run.stderr
                .contains(&format!("stowage login --profile {team}")),
            "{run:?}"
        );
        runs.push(run);
        // --anon replaces the service-role entry (else that would still win).
        let run = run_stdin(
            &sb,
            &["--json", "login", "--stdin", "--anon", "--profile", &team],
            &format!("{plant}-anon\n"),
        )
        .ok();
        let doc = run.json();
        assert_eq!(
            doc["removed"][0],
            format!("{team}/service_role_key"),
            "{doc}"
        );
        assert_eq!(doc["stored"][0], format!("{team}/anon_key"), "{doc}");
        runs.push(run);
        let doc = sb
            .run_async(&["--json", "profile", "show"])
            .await
            .ok()
            .json();
        let fields = doc["credentials"]["fields"].as_array().unwrap();
        assert!(
            fields
                .iter()
                .any(|f| f["field"] == "anon_key" && f["origin"] == "keyring"),
            "{doc}"
        );
        // Back to the right key to clean up.
        runs.push(login(&sb, &team, &format!("{key}\n")));
        runs.push(
            sb.run_async(&["rm", "-r", &format!("{bucket}/")])
                .await
                .ok(),
        );
        runs.push(sb.run_async(&["buckets", "rm", &bucket]).await.ok());
        assert_traced(&runs);
        assert_no_leak(&sb, &runs, &[&key, &plant, &env_key]);
        let signature = key.rsplit('.').next().unwrap();
        assert_no_leak(&sb, &runs, &[signature]);
    }
    server.shutdown().await;
}

/// No keyring: `login` fails naming the fix, writes the secret nowhere, and an unknown
/// STOWAGE_KEYRING is a usage error. Reading falls back to the environment.
#[test]
fn login_without_a_keyring_fails_clearly_and_never_falls_back_to_a_file() {
    let mut sb = Sandbox::new();
    let endpoint = s3_endpoint();
    sb.run(&[
        "profile",
        "add",
        "lab",
        "--kind",
        "s3",
        "--endpoint",
        &endpoint,
        "--path-style",
        "--default",
    ])
    .ok();
    let plant = planted();
    let mut runs = Vec::new();
    // The Secret Service chosen, but no session bus to reach it.
    let mut cmd = sb.command(&["login", "--stdin", "--access-key-id", "AK"]);
    cmd.env("STOWAGE_KEYRING", "secret-service")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{plant}\n").as_bytes())
        .unwrap();
    let run: Run = child.wait_with_output().unwrap().into();
    let run = run.code(6);
    assert!(
        run.stderr.contains("keyring")
            && run.stderr.contains("gnome-keyring-daemon")
            && run.stderr.contains("AWS_SECRET_ACCESS_KEY"),
        "{run:?}"
    );
    runs.push(run);
    sb.env("STOWAGE_KEYRING", "plaintext-file");
    let run = run_stdin(&sb, &["login", "--stdin", "--access-key-id", "AK"], &plant).code(2);
    assert!(run.stderr.contains("secret-service"), "{run:?}");
    runs.push(run);
    // Not a terminal and no --stdin: refused before reading anything.
    sb.env("STOWAGE_KEYRING", "keyutils");
    let run = sb.run(&["login"]).code(2);
    assert!(run.stderr.contains("--stdin"), "{run:?}");
    runs.push(run);
    // A local profile has nothing to store.
    let run = run_stdin(&sb, &["login", "--stdin", "--profile", "local"], &plant).code(2);
    assert!(run.stderr.contains("needs no secrets"), "{run:?}");
    runs.push(run);
    assert_no_leak(&sb, &runs, &[&plant]);
}

/// A secret pasted into config.toml is refused with the command that moves it, and never
/// echoed.
#[test]
fn a_secret_in_the_config_file_names_the_login_command() {
    let sb = Sandbox::new();
    let plant = planted();
    for (kind, field) in [
        ("s3", "secret_access_key"),
        ("supabase", "service_role_key"),
    ] {
        sb.write_config(&format!(
            "# comment\n[profiles.lab2]\nkind = \"{kind}\"\n{field} = \"{plant}\"\n"
        ));
        for args in [&["ls"][..], &["--json", "ls"], &["profile", "show", "lab2"]] {
            let run = sb.run(args).code(2);
            let all = format!("{}{}", run.stdout, run.stderr);
            assert!(all.contains("config.toml:4:1"), "{run:?}");
            assert!(
                all.contains("stowage login --profile lab2"),
                "the fix is not named: {run:?}"
            );
            assert!(!all.contains(&plant), "the secret was echoed: {run:?}");
        }
    }
}

/// `profile add` keeps the file's other content, validates before writing, refuses
/// duplicates; `--dry-run` changes nothing; `profile rm` refuses the built-in profile.
#[test]
fn profile_add_show_rm_edit_the_config_file_safely() {
    let mut sb = Sandbox::new();
    sb.env("STOWAGE_KEYRING", "keyutils");
    let original = "# our profiles\ndefault_profile = \"disk\"\n\n[profiles.disk]  # the NAS\n\
                    kind = \"local\"\nroot = \"/tmp\"\n";
    sb.write_config(original);
    let file = sb.path("config/config.toml");

    let run = sb
        .run(&[
            "--dry-run",
            "profile",
            "add",
            "team",
            "--kind",
            "supabase",
            "--url",
            "https://abcd.supabase.co",
        ])
        .ok();
    assert!(run.stdout.contains("would add"), "{run:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);

    let doc = sb
        .run(&[
            "--json",
            "profile",
            "add",
            "team",
            "--kind",
            "supabase",
            "--url",
            "https://abcd.supabase.co",
            "--max-object-size",
            "1000",
        ])
        .ok()
        .json();
    assert_eq!(doc["kind"], "supabase");
    assert_eq!(doc["url"], "https://abcd.supabase.co");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(original), "{text}");
    assert!(text.contains("[profiles.team]"), "{text}");

    // Duplicates, settings of another kind and bad URLs are refused; the file is unchanged.
    sb.run(&["profile", "add", "team", "--kind", "s3"]).code(4);
    let run = sb
        .run(&[
            "profile",
            "add",
            "x",
            "--kind",
            "supabase",
            "--endpoint",
            "http://a",
        ])
        .code(2);
    assert!(
        run.stderr.contains("--endpoint is a setting of s3"),
        "{run:?}"
    );
    let run = sb
        .run(&[
            "profile",
            "add",
            "y",
            "--kind",
            "s3",
            "--endpoint",
            "localhost:9000",
        ])
        .code(2);
    assert!(run.stderr.contains("http://"), "{run:?}");
    sb.run(&["profile", "add", "bad name", "--kind", "s3"])
        .code(2);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // show: every setting, credentials by place.
    let run = sb.run(&["profile", "show", "team"]).ok();
    assert!(
        run.stdout.contains("url: https://abcd.supabase.co")
            && run.stdout.contains("max_object_size: 1000")
            && run.stdout.contains("service_role_key: not set"),
        "{run:?}"
    );
    sb.env("SUPABASE_SERVICE_ROLE_KEY", "env-key-value");
    let run = sb.run(&["profile", "show", "team"]).ok();
    assert!(
        run.stdout
            .contains("service_role_key: from SUPABASE_SERVICE_ROLE_KEY")
            && !run.stdout.contains("env-key-value"),
        "{run:?}"
    );
    sb.run(&["profile", "show", "nope"]).code(2);

    // rm: dry run changes nothing; the default profile's removal clears default_profile.
    sb.run(&["--dry-run", "profile", "rm", "disk"]).ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let doc = sb.run(&["--json", "profile", "rm", "disk"]).ok().json();
    assert_eq!(doc["was_default"], true, "{doc}");
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        !after.contains("profiles.disk") && !after.contains("default_profile"),
        "{after}"
    );
    assert!(after.contains("# our profiles") && after.contains("[profiles.team]"));
    let run = sb.run(&["profile", "rm", "local"]).code(3);
    assert!(run.stderr.contains("built-in"), "{run:?}");
    sb.run(&["profile", "rm", "disk"]).code(3);
    let doc = sb.run(&["--json", "profile", "ls"]).ok().json();
    assert_eq!(doc["profiles"].as_array().unwrap().len(), 2, "{doc}");
}

/// On a terminal `login` asks for the secret without echo: run under a pseudo-terminal
/// (`script`), type the answers after each prompt, and the typed secret must not come back
/// in the terminal's output, yet be stored. Then `profile rm --dry-run` lists the entries and
/// keeps them, and `profile rm` removes them from the keyring.
#[test]
fn login_on_a_terminal_does_not_echo_the_secret() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let mut sb = Sandbox::new();
    sb.env("STOWAGE_KEYRING", "keyutils");
    let name = unique("kr-tty");
    let _profiles = ProfileGuard {
        sb: &sb,
        names: vec![name.clone()],
    };
    sb.run(&["profile", "add", &name, "--kind", "s3"]).ok();
    let plant = planted();
    let cmd = sb.command(&[]);
    // `script` gives the command a pseudo-terminal; its output is what the user would see.
    let line = format!("{BIN} login --profile {name}");
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .current_dir(sb.path("work"))
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script
        .spawn()
        .expect("`script` (util-linux) runs the command under a terminal");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let wait_for = |text: &str| {
        for _ in 0..600 {
            if seen.lock().unwrap().contains(text) {
                // Let the prompt's reader switch echo off before typing.
                std::thread::sleep(std::time::Duration::from_millis(300));
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no `{text}` prompt: {}", seen.lock().unwrap());
    };
    let mut stdin = child.stdin.take().unwrap();
    wait_for("Access key id");
    stdin.write_all(b"AKTERMINAL\n").unwrap();
    wait_for("(not shown)");
    stdin.write_all(format!("{plant}\n").as_bytes()).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let shown = seen.lock().unwrap().clone();
    assert!(status.success(), "{shown}");
    assert!(shown.contains("stored the access key id"), "{shown}");
    assert!(
        !shown.contains(&plant),
        "the secret was echoed on the terminal: {shown}"
    );
    let doc = sb.run(&["--json", "profile", "show", &name]).ok().json();
    assert_eq!(
        doc["credentials"]["fields"][1]["origin"], "keyring",
        "{doc}"
    );

    // `profile rm --dry-run` lists the entries and keeps them; `profile rm` removes them.
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    let doc = sb
        .run(&["--dry-run", "--json", "profile", "rm", &name])
        .ok()
        .json();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(
        doc["keyring_entries"],
        serde_json::json!([
            {"entry": format!("{name}/access_key_id"), "keyring": "keyutils"},
            {"entry": format!("{name}/secret_access_key"), "keyring": "keyutils"},
        ])
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("config/config.toml")).unwrap(),
        config
    );
    let doc = sb.run(&["--json", "profile", "show", &name]).ok().json();
    assert_eq!(
        doc["credentials"]["fields"][1]["origin"], "keyring",
        "{doc}"
    );
    let run = sb.run(&["profile", "rm", &name]).ok();
    assert!(
        run.stdout.contains("removed its keyring entries"),
        "{run:?}"
    );
    sb.run(&["profile", "add", &name, "--kind", "s3"]).ok();
    let doc = sb.run(&["--json", "profile", "show", &name]).ok().json();
    assert_eq!(
        doc["credentials"]["fields"][0]["origin"], "aws_chain",
        "{doc}"
    );
}
