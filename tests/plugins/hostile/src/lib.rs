//! Misbehaves in `check-batch` as its `attack` setting says; every other call behaves,
//! but for the attacks on the host's checks of answers (see [`answers`]), which misbehave
//! in `temp-name`, in suggestions and in the size of what they say. The host must
//! contain each attack and keep working.

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
                doc: "none, loop, allocate, panic, read-file, socket:PORT, sleep, clock, env; on \
                      answers: same-temp-name, temp-name:NAME, temp-huge, suggest:NAME, \
                      suggest-huge, huge-message"
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
        if let Some(verdicts) = ATTACK.with(|a| answers::verdicts(&a.borrow(), &entries)) {
            return verdicts;
        }
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
        ATTACK
            .with(|a| answers::temp_name(&a.borrow()))
            .unwrap_or_else(|| format!("{final_path}.partial"))
    }

    fn classify(error: RawError) -> Classification {
        let mut classification = ferry_policy_kit::classify::classify(&error);
        if ATTACK.with(|a| *a.borrow() == "huge-message") {
            classification.advice = answers::huge(answers::HUGE);
        }
        classification
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

// ---- attacks on the host's checks of answers (issue 12) ----
mod answers {
    use super::*;

    /// The size of a huge answer: 4 MiB (what the sandbox's 16 MiB lets a plugin build
    /// and hand over; a larger one stops the plugin at its memory cap).
    pub const HUGE: usize = 4 << 20;
    /// What one `check-batch` answer may hold in all, within the sandbox's memory.
    const BATCH_BUDGET: usize = 4 << 20;

    /// `same-temp-name`: one temporary name for every file; `temp-name:NAME`: NAME for
    /// every file; `temp-huge`: a 4 MiB name.
    pub fn temp_name(attack: &str) -> Option<String> {
        match attack {
            "same-temp-name" => Some("same.tmp".into()),
            "temp-huge" => Some(huge(HUGE)),
            _ => attack.strip_prefix("temp-name:").map(str::to_string),
        }
    }

    /// The verdicts of an attack on answers; `None` for the other attacks.
    /// `suggest:NAME`: every entry whose name holds "bad" breaks a rule, and NAME is
    /// suggested for it (the others pass); `suggest-huge`: the same with a huge
    /// suggestion; `huge-message`: every entry breaks a rule told in a huge message.
    /// The temporary-name attacks accept every entry.
    pub fn verdicts(attack: &str, entries: &[Entry]) -> Option<Vec<Verdict>> {
        let share = huge(HUGE.min(BATCH_BUDGET / entries.len().max(1)));
        let verdict: Box<dyn Fn(&Entry) -> Verdict> = match attack {
            "huge-message" => Box::new(|_| refused(&share)),
            "suggest-huge" => Box::new(|entry| suggested(entry, &share)),
            _ if temp_name(attack).is_some() => Box::new(|_| refused("")),
            _ => {
                let name = attack.strip_prefix("suggest:")?;
                Box::new(move |entry| suggested(entry, name))
            }
        };
        Some(entries.iter().map(verdict).collect())
    }

    fn suggested(entry: &Entry, suggestion: &str) -> Verdict {
        let name = entry.path.rsplit('/').next().unwrap_or_default();
        match name.find("bad") {
            Some(position) => refused_character(name, position, suggestion),
            None => refused(""),
        }
    }

    fn refused_character(name: &str, position: usize, suggestion: &str) -> Verdict {
        let violation = Violation::ForbiddenCharacter(ForbiddenCharacter {
            character: 'b',
            component: name.into(),
            position: name[..position].chars().count() as u32,
        });
        Verdict {
            violations: vec![violation],
            suggested_path: Some(suggestion.into()),
            temp_form: TempForm::Standard,
        }
    }

    /// A verdict with a rule broken, told in `message`; none when `message` is empty.
    fn refused(message: &str) -> Verdict {
        let violations = match message {
            "" => vec![],
            _ => vec![Violation::Custom(CustomViolation {
                rule: "huge".into(),
                message: message.into(),
            })],
        };
        Verdict {
            violations,
            suggested_path: None,
            temp_form: TempForm::Standard,
        }
    }

    pub fn huge(bytes: usize) -> String {
        "x".repeat(bytes)
    }
}
// ---- end of the attacks on answers ----

ferry_policy_kit::bindings::export_bindings!(Hostile with_types_in ferry_policy_kit::bindings);
