//! `collect --leader-elect`: the Lease reads and writes around
//! [`kplug_eventlog::lease`], which decides.

use std::time::Instant;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kplug_eventlog::lease::{Candidate, Held, Step, Timing};
use kube::api::{Api, PostParams};

/// One replica's side of the election.
#[derive(Clone)]
pub struct Elector {
    api: Api<Lease>,
    name: String,
    candidate: Candidate,
}

/// What a try came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// We hold the Lease (just created, renewed or taken over).
    Leading { took_over: bool },
    /// Someone else does.
    Following { holder: String },
}

fn held(lease: &Lease) -> Held {
    let spec = lease.spec.clone().unwrap_or_default();
    Held {
        holder: spec.holder_identity.unwrap_or_default(),
        version: lease.metadata.resource_version.clone().unwrap_or_default(),
        transitions: spec.lease_transitions.unwrap_or(0),
    }
}

impl Elector {
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        me: &str,
        timing: Timing,
    ) -> Elector {
        Elector {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            candidate: Candidate::new(me, timing),
        }
    }

    pub fn me(&self) -> &str {
        &self.candidate.me
    }

    pub fn timing(&self) -> Timing {
        self.candidate.timing
    }

    fn spec(&self, transitions: i32, acquired: bool, previous: Option<&LeaseSpec>) -> LeaseSpec {
        let now = MicroTime(jiff::Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.candidate.me.clone()),
            lease_duration_seconds: Some(self.candidate.timing.duration.as_secs().max(1) as i32),
            acquire_time: if acquired {
                Some(now.clone())
            } else {
                previous.and_then(|p| p.acquire_time.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// Read the Lease and do what the election says: create, renew or take
    /// it, or follow its holder. A write that loses a race (409) follows.
    pub async fn try_lead(&mut self) -> Result<Outcome, kube::Error> {
        let current = self.api.get_opt(&self.name).await?;
        let step = self
            .candidate
            .decide(current.as_ref().map(held).as_ref(), Instant::now());
        let written = match (step, current) {
            (Step::Follow { holder }, _) => return Ok(Outcome::Following { holder }),
            (Step::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(self.spec(0, true, None)),
                };
                self.api
                    .create(&PostParams::default(), &lease)
                    .await
                    .map(|_| false)
            }
            (Step::Renew | Step::TakeOver, None) => unreachable!("decided on a Lease that exists"),
            (step, Some(mut lease)) => {
                let took_over = step == Step::TakeOver;
                let previous = lease.spec.take();
                let transitions = previous
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0)
                    + i32::from(took_over);
                lease.spec = Some(self.spec(transitions, took_over, previous.as_ref()));
                // Replacing with the resourceVersion read: a race is a 409.
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
                    .map(|_| took_over)
            }
        };
        match written {
            Ok(took_over) => Ok(Outcome::Leading { took_over }),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Outcome::Following {
                holder: "another replica (it won the race)".into(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Give the Lease up on a clean stop, so another replica takes it at
    /// once rather than after the lease duration.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        if held(&lease).holder != self.candidate.me {
            return Ok(());
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        }
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }
}
