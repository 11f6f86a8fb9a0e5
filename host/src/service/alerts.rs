//! Webhook alerts: a run that failed or partly failed, and a sync that succeeds again
//! after failing, posted as JSON to the sync's webhook and the service's, retried with
//! back-off.

use std::time::Duration;

use serde::Serialize;

use crate::config::{HttpOptions, Webhook};
use crate::plugin::Operation;
use crate::state::RunStatus;
use crate::sync::report::RunReport;

/// Tries per alert, and the first pause between them (doubling).
const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an alert is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Failure,
    PartialFailure,
    /// The sync's run succeeded after one that failed.
    Recovered,
    /// The run could not start (its config, plugin or state store).
    Error,
}

impl Event {
    /// The alert a run ending `now` calls for, after one that ended `before`.
    pub fn of(before: Option<RunStatus>, now: RunStatus) -> Option<Event> {
        let failing = |status| matches!(status, RunStatus::Failure | RunStatus::PartialFailure);
        match now {
            RunStatus::Failure => Some(Event::Failure),
            RunStatus::PartialFailure => Some(Event::PartialFailure),
            RunStatus::Success | RunStatus::NothingToDo if before.is_some_and(failing) => {
                Some(Event::Recovered)
            }
            _ => None,
        }
    }
}

/// What is posted.
#[derive(Serialize)]
pub struct Alert<'a> {
    pub event: Event,
    pub sync: &'a str,
    /// The run's report, as `run --json` prints it.
    pub run: Option<&'a RunReport>,
    /// Why the run could not start, for [`Event::Error`].
    pub error: Option<&'a str>,
}

#[derive(Clone)]
pub struct Alerts {
    client: reqwest::Client,
}

impl Alerts {
    pub fn new() -> Result<Self, String> {
        let options = HttpOptions {
            bind_address: None,
            connect_timeout: TIMEOUT,
            idle_timeout: TIMEOUT,
            ca_file: None,
        };
        let client = crate::remote::http::client(&options, Operation::Write)
            .map_err(|error| error.message)?;
        Ok(Alerts { client })
    }

    /// Post `alert` to each of `hooks`, in the background, each retried on its own.
    pub fn send(&self, alert: &Alert<'_>, hooks: Vec<Webhook>) {
        let body = serde_json::to_vec(alert).expect("an alert is plain data");
        for Webhook(url) in hooks {
            let (client, body) = (self.client.clone(), body.clone());
            tokio::spawn(async move { post(&client, &url, body).await });
        }
    }
}

/// Post until the receiver answers 2xx, pausing longer each time; a 4xx other than 408
/// and 429 is not retried (the receiver refuses it as it is).
async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) {
    let mut pause = FIRST_PAUSE;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(TIMEOUT)
            .body(body.clone())
            .send()
            .await;
        let why = match sent {
            Ok(answer) if answer.status().is_success() => return,
            Ok(answer) if refused_for_good(answer.status()) => {
                tracing::warn!("webhook {url} refused the alert: {}", answer.status());
                return;
            }
            Ok(answer) => answer.status().to_string(),
            Err(error) => crate::remote::http::chain(&error),
        };
        let why = crate::text::inert(&why);
        tracing::warn!("webhook {url}: attempt {attempt} of {ATTEMPTS} failed: {why}");
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
}

fn refused_for_good(status: reqwest::StatusCode) -> bool {
    status.is_client_error()
        && status != reqwest::StatusCode::REQUEST_TIMEOUT
        && status != reqwest::StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_runs_alert_and_so_does_the_first_success_after_them() {
        use RunStatus::*;
        assert_eq!(Event::of(None, Failure), Some(Event::Failure));
        assert_eq!(
            Event::of(Some(Success), PartialFailure),
            Some(Event::PartialFailure)
        );
        assert_eq!(Event::of(Some(Failure), Success), Some(Event::Recovered));
        assert_eq!(
            Event::of(Some(PartialFailure), NothingToDo),
            Some(Event::Recovered)
        );
        assert_eq!(Event::of(Some(Success), Success), None);
        assert_eq!(Event::of(None, Success), None);
        assert_eq!(Event::of(Some(Failure), Interrupted), None);
    }
}
