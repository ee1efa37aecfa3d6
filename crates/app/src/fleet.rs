//! One supervisor per watched gateway, each with its own worker process, and the rule for
//! changing them: a settings change touches only the gateways it changes. A gateway whose
//! supervisor settings are unchanged keeps its supervisor, its connection and its history
//! (a rename only renames it); one that changed is stopped, its worker gone and its client
//! id let go, before its new supervisor connects; one removed or disabled is stopped.

use std::sync::{Arc, Mutex};

use gatewatch_supervisor::{BrokerClient, SupervisorConfig};
use tokio::sync::broadcast;
use tokio::task::{JoinHandle, JoinSet};

use crate::AppError;
use crate::records::{GatewayEvent, Records, relay};

/// A gateway the settings say to watch.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// The profile's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The supervisor settings it stands for.
    pub config: SupervisorConfig,
}

/// A watched gateway: its supervisor and the task relaying its events.
pub struct Member {
    pub id: String,
    pub name: String,
    pub config: SupervisorConfig,
    pub client: BrokerClient,
    relay: JoinHandle<()>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

/// What a settings change did to the watched gateways, by profile id.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Applied {
    /// Newly watched (added or enabled).
    pub started: Vec<String>,
    /// Stopped and started again with new settings.
    pub restarted: Vec<String>,
    /// No longer watched (removed or disabled).
    pub stopped: Vec<String>,
}

/// The watched gateways, in the order of the settings.
#[derive(Default)]
pub struct Fleet {
    members: Vec<Member>,
}

impl Fleet {
    /// The member watching profile `id`.
    pub fn get(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Every member, in the order of the settings.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Every member, taken out.
    pub fn into_members(self) -> Vec<Member> {
        self.members
    }

    /// Removes and returns the members not wanted as they are: gone from `wanted`, or
    /// wanted with other supervisor settings.
    fn take_unwanted(&mut self, wanted: &[Wanted]) -> Vec<Member> {
        let (keep, unwanted) = std::mem::take(&mut self.members)
            .into_iter()
            .partition(|m| wanted.iter().any(|w| w.id == m.id && w.config == m.config));
        self.members = keep;
        unwanted
    }

    /// Puts the members in the order of `wanted` and gives them its names.
    fn arrange(&mut self, wanted: &[Wanted]) {
        self.members
            .sort_by_key(|m| wanted.iter().position(|w| w.id == m.id));
        for member in &mut self.members {
            if let Some(w) = wanted.iter().find(|w| w.id == member.id) {
                member.name.clone_from(&w.name);
            }
        }
    }
}

/// Brings `fleet` to `wanted`: first stops what goes or changes (all at once, each waiting
/// for its worker to exit), then starts what is new or changed.
pub async fn apply(
    fleet: &Mutex<Fleet>,
    wanted: &[Wanted],
    records: &Arc<Mutex<Records>>,
    events: &broadcast::Sender<GatewayEvent>,
) -> Result<Applied, AppError> {
    let unwanted = fleet.lock().expect("fleet poisoned").take_unwanted(wanted);
    let mut applied = Applied::default();
    for member in &unwanted {
        if wanted.iter().any(|w| w.id == member.id) {
            applied.restarted.push(member.id.clone());
        } else {
            applied.stopped.push(member.id.clone());
        }
    }
    stop_all(unwanted).await;

    let missing: Vec<Wanted> = {
        let fleet = fleet.lock().expect("fleet poisoned");
        wanted
            .iter()
            .filter(|w| fleet.get(&w.id).is_none())
            .cloned()
            .collect()
    };
    let mut first_error = None;
    for want in missing {
        if !applied.restarted.contains(&want.id) {
            applied.started.push(want.id.clone());
        }
        match start(&want, records, events).await {
            Ok(member) => fleet.lock().expect("fleet poisoned").members.push(member),
            Err(error) => {
                tracing::warn!(gateway = want.id, %error, "cannot start watching");
                first_error.get_or_insert(error);
            }
        }
    }
    fleet.lock().expect("fleet poisoned").arrange(wanted);
    let watched: Vec<&str> = wanted.iter().map(|w| w.id.as_str()).collect();
    records.lock().expect("records poisoned").retain(&watched);
    match first_error {
        Some(error) => Err(error),
        None => Ok(applied),
    }
}

async fn start(
    want: &Wanted,
    records: &Arc<Mutex<Records>>,
    events: &broadcast::Sender<GatewayEvent>,
) -> Result<Member, AppError> {
    let client = BrokerClient::new(want.config.clone())?;
    let relay = tokio::spawn(relay(
        want.id.clone(),
        client.subscribe(),
        Arc::clone(records),
        events.clone(),
    ));
    client.start().await?;
    Ok(Member {
        id: want.id.clone(),
        name: want.name.clone(),
        config: want.config.clone(),
        client,
        relay,
    })
}

/// Stops every member's supervisor at once and waits for all of them.
pub async fn stop_all(members: Vec<Member>) {
    let mut stopping = JoinSet::new();
    for member in members {
        stopping.spawn(async move {
            if let Err(error) = member.client.stop().await
                && error != gatewatch_supervisor::ClientError::Stopped
            {
                tracing::warn!(gateway = member.id, %error, "stopping a supervisor");
            }
        });
    }
    while stopping.join_next().await.is_some() {}
}
