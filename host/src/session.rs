//! A host of runs: the one place that owns the async runtime, the wasm engine and the
//! policy plugins loaded for remotes. `ferry run` makes one for one run; `ferry serve`
//! keeps one for its lifetime, so that no run rebuilds the engine or reloads a plugin
//! whose remote did not change.

use std::sync::{Arc, Mutex};

use crate::config::{Config, PolicyValue, RemoteConfig};
use crate::plugin::{ComponentCache, Limits, PluginError, Runtime};
use crate::sync::report::RunReport;
use crate::sync::{self, Hooks, PolicyHandle, RunOptions, SyncError};

/// The blocking threads of a [`Threads::Pool`] runtime at most.
const BLOCKING_THREADS: usize = 64;

/// How the session's async runtime runs its tasks.
#[derive(Clone, Copy, Debug)]
pub enum Threads {
    /// One thread drives every connection and transfer (`ferry run`): handing work
    /// between runtime threads cost more, in wake-ups with the server on the same cores,
    /// than it gained. Files, the state store and plugins still run on threads of their own.
    One,
    /// A pool of worker threads, for a service running many syncs and answering requests.
    Pool,
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// What a policy was loaded from: a remote's policy keys and the file its paths are
/// relative to. A reloaded config that leaves them as they were keeps the loaded plugin.
/// Settings are compared by name and value, not by where they are written.
#[derive(Clone, PartialEq)]
struct PolicyKey {
    config_file: std::path::PathBuf,
    policy: Option<String>,
    settings: Vec<(String, PolicyValue)>,
    timeout: Option<std::time::Duration>,
}

impl PolicyKey {
    fn of(config: &Config, remote: &RemoteConfig) -> Self {
        PolicyKey {
            config_file: config.file.clone(),
            policy: remote.policy.clone(),
            settings: remote
                .policy_settings
                .iter()
                .map(|setting| (setting.name.clone(), setting.value.clone()))
                .collect(),
            timeout: remote.policy_timeout,
        }
    }
}

pub struct Session {
    runtime: tokio::runtime::Runtime,
    plugins: Runtime,
    /// One loaded policy per distinct set of policy keys: remotes configured alike (a
    /// thousand local folders under `generic`) share one instance and its thread.
    policies: Mutex<Vec<(PolicyKey, PolicyHandle)>>,
}

impl Session {
    pub fn new(threads: Threads) -> Result<Session, SessionError> {
        let mut builder = match threads {
            Threads::One => tokio::runtime::Builder::new_current_thread(),
            Threads::Pool => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                // File I/O, store reads and page renders: enough for max_runs' runs at
                // once, without hundreds of threads (and their memory) under API load.
                builder.max_blocking_threads(BLOCKING_THREADS);
                builder
            }
        };
        let runtime = builder
            .enable_all()
            .build()
            .map_err(SessionError::Runtime)?;
        let plugins = Runtime::new(ComponentCache::default_location(), Limits::default())?;
        Ok(Session {
            runtime,
            plugins,
            policies: Mutex::new(Vec::new()),
        })
    }

    /// The async runtime, for what the host runs beside its runs.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// `remote`'s policy plugin, configured: the one loaded before when its keys are the
    /// same. Call it outside the async runtime (plugins' WASI bindings block); from async
    /// code, use [`Session::policy_async`].
    pub fn policy(
        &self,
        config: &Config,
        remote: &RemoteConfig,
    ) -> Result<PolicyHandle, SyncError> {
        let key = PolicyKey::of(config, remote);
        let loaded = |policies: &[(PolicyKey, PolicyHandle)]| {
            let found = policies.iter().find(|(loaded, _)| *loaded == key);
            found.map(|(_, handle)| handle.clone())
        };
        if let Some(handle) = loaded(&self.policies.lock().unwrap()) {
            return Ok(handle);
        }
        let handle = sync::load_policy(&self.plugins, config, remote)?;
        let mut policies = self.policies.lock().unwrap();
        // Another run may have loaded it meanwhile: keep one.
        if let Some(handle) = loaded(&policies) {
            return Ok(handle);
        }
        policies.push((key, handle.clone()));
        Ok(handle)
    }

    /// [`Session::policy`] from async code: loaded on a thread of its own, outside the
    /// runtime.
    pub async fn policy_async(
        self: &Arc<Self>,
        config: &Arc<Config>,
        remote: &str,
    ) -> Result<PolicyHandle, SyncError> {
        let (session, config, remote) = (Arc::clone(self), Arc::clone(config), remote.to_string());
        let (answer, answered) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let loaded = config
                .remote(&remote)
                .map_err(SyncError::from)
                .and_then(|remote| session.policy(&config, remote));
            let _ = answer.send(loaded);
        });
        answered.await.expect("loading a policy does not panic")
    }

    /// Run the sync `name` to the end and report it (blocking: for the command line).
    pub fn run(
        &self,
        config: &Config,
        name: &str,
        options: &RunOptions,
        hooks: &Hooks,
    ) -> Result<(RunReport, PolicyHandle), SyncError> {
        let destination = config.remote(&config.sync(name)?.destination)?;
        let policy = self.policy(config, destination)?;
        let run = sync::run(config, name, options, policy.clone(), hooks);
        Ok((self.runtime.block_on(run)?, policy))
    }

    /// Run the sync `name` as a task of the session's runtime (for the service, which
    /// runs several at once and keeps answering requests meanwhile).
    pub async fn run_async(
        self: &Arc<Self>,
        config: Arc<Config>,
        name: String,
        options: RunOptions,
        hooks: Hooks,
    ) -> Result<RunReport, SyncError> {
        let destination = config.sync(&name)?.destination.clone();
        let policy = self.policy_async(&config, &destination).await?;
        let run = async move { sync::run(&config, &name, &options, policy, &hooks).await };
        self.runtime.spawn(run).await.expect("a run does not panic")
    }
}
