//! Misbehaves in `check-batch` as its `attack` setting says; every other call behaves.
//! The host must contain each attack and keep working.

use std::cell::RefCell;
use std::io::Read;

use ferry_policy_kit::bindings::Guest;
use ferry_policy_kit::*;

thread_local! {
    static ATTACK: RefCell<String> = const { RefCell::new(String::new()) };
}

struct Hostile;

impl Guest for Hostile {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "hostile".into(),
            version: "0.0.0".into(),
            description: "Misbehaves on purpose.".into(),
            remote_kinds: vec![],
            settings: vec![SettingDoc {
                name: "attack".into(),
                kind: SettingType::Text,
                default_value: "none".into(),
                doc: "none, loop, allocate, panic, read-file, socket:PORT, sleep, clock, env"
                    .into(),
            }],
        }
    }

    fn configure(settings: Vec<Setting>) -> Result<(), ConfigError> {
        for setting in settings {
            match (setting.name.as_str(), setting.value) {
                ("attack", SettingValue::Text(attack)) => ATTACK.with(|a| *a.borrow_mut() = attack),
                (name, _) => return Err(ConfigError::UnknownKey(name.into())),
            }
        }
        Ok(())
    }

    fn check_batch(entries: Vec<Entry>) -> Vec<Verdict> {
        let outcome = ATTACK.with(|a| attack(&a.borrow()));
        entries
            .iter()
            .map(|_| Verdict {
                violations: vec![Violation::Custom(CustomViolation {
                    rule: "attack-outcome".into(),
                    message: outcome.clone(),
                })],
                suggested_path: None,
                temp_form: TempForm::Standard,
            })
            .collect()
    }

    fn temp_name(final_path: String, _form: TempForm) -> String {
        format!("{final_path}.partial")
    }

    fn classify(error: RawError) -> Classification {
        ferry_policy_kit::classify::classify(&error)
    }
}

/// Run the attack; what it achieved, if it returns at all.
fn attack(kind: &str) -> String {
    match kind {
        // ---- waiting and ambient capabilities (plugin runtime: deadlines, WASI) ----
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            "slept an hour".into()
        }
        "clock" => {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_secs(3600) {}
            "busy-waited an hour".into()
        }
        "env" => match std::env::vars().next() {
            Some((key, value)) => format!("read the environment: {key}={value}"),
            None => "refused: no environment".into(),
        },
        // ---- end of waiting and ambient capabilities ----
        "loop" => {
            let mut counter: u64 = 0;
            loop {
                counter = std::hint::black_box(counter.wrapping_add(1));
            }
        }
        "allocate" => {
            let block = vec![1u8; 1 << 30];
            format!("allocated {} bytes", std::hint::black_box(block).len())
        }
        "panic" => panic!("hostile plugin panics on purpose"),
        "read-file" => {
            let mut text = String::new();
            match std::fs::File::open("/etc/passwd").and_then(|mut f| f.read_to_string(&mut text)) {
                Ok(_) => format!("read: {text}"),
                Err(e) => format!("refused: {e}"),
            }
        }
        socket if socket.starts_with("socket:") => {
            let address = format!("127.0.0.1:{}", &socket["socket:".len()..]);
            match std::net::TcpStream::connect(&address) {
                Ok(_) => format!("connected to {address}"),
                Err(e) => format!("refused: {e}"),
            }
        }
        _ => "no attack".into(),
    }
}

ferry_policy_kit::bindings::export_bindings!(Hostile with_types_in ferry_policy_kit::bindings);
