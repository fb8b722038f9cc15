//! `--replay`: the servers' answers in a capture as a simulator scenario, so the engine shows
//! what dnspect would have done with them. The captured clients' UDP queries become the
//! scenario's queries (at their capture times); every answer the capture holds for a question
//! becomes, in capture order, the reply of one scripted upstream to that question (the bytes
//! as captured, after the captured delay). TCP exchanges are the clients' retries after TC:
//! their answers join the question's replies and the engine does its own retrying.

use std::collections::BTreeMap;

use core::net::IpAddr;

use crate::sim::{self, Behaviour, ClientQuery, Rule, Scenario, ScriptedUpstream, SimResult};
use crate::wire::view::MessageView;

use super::net::Transport;
use super::report::Exchange;

/// Client queries a replay takes at most (the rest of the capture is left out, and said so).
pub const MAX_REPLAY_QUERIES: usize = 2000;

/// A scenario and what the capture said for each of its queries.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CaptureReplay"))]
#[derive(Clone, Debug, serde::Serialize)]
pub struct Replay {
    pub scenario: Scenario,
    /// For each scenario query, in order: the captured server's answer (RCODE, answer count,
    /// size, TC).
    pub captured: Vec<CapturedAnswer>,
    /// Client queries of the capture that the replay left out (past MAX_REPLAY_QUERIES).
    pub left_out: usize,
}

/// What the captured server answered one client query.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CapturedAnswer {
    pub server: String,
    pub rcode: String,
    pub answers: u16,
    pub size: usize,
    pub tc: bool,
}

/// One line per query: what the capture's server answered and what dnspect answered.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplayRow {
    pub at_ms: u64,
    pub name: String,
    pub qtype: String,
    pub captured: CapturedAnswer,
    /// dnspect's answer to the client: RCODE, answer count, size, TC, transport; none when the
    /// engine gave no answer.
    pub dnspect: Option<String>,
    /// True when dnspect's RCODE or answer count differs from the captured server's.
    pub differs: bool,
}

/// Builds the scenario from the exchanges the analyzer kept.
pub fn scenario(exchanges: &[Exchange]) -> Replay {
    let mut replies: BTreeMap<(String, String), Vec<Behaviour>> = BTreeMap::new();
    let mut clients: BTreeMap<IpAddr, u64> = BTreeMap::new();
    let mut queries = Vec::new();
    let mut captured = Vec::new();
    let mut left_out = 0;
    let start = exchanges.iter().map(|e| e.query_ns).min().unwrap_or(0);
    for e in exchanges {
        let key = (e.name.to_ascii_lowercase(), e.qtype.to_string());
        replies.entry(key).or_default().push(Behaviour {
            kind: "hex".into(),
            hex: Some(crate::wire::text::hex(&e.response)),
            delay_ms: (e.latency_ns / 1_000_000).max(0) as u64,
            ..Behaviour::default()
        });
        if e.transport == Transport::Tcp {
            continue;
        }
        if queries.len() >= MAX_REPLAY_QUERIES {
            left_out += 1;
            continue;
        }
        let n = clients.len() as u64 + 1;
        let client = *clients.entry(e.client.ip()).or_insert(n);
        let view = MessageView::new(&e.response).ok();
        captured.push(CapturedAnswer {
            server: e.server.to_string(),
            rcode: view.map_or("?".into(), |v| {
                let ext = v
                    .scan()
                    .ok()
                    .and_then(|s| s.opt)
                    .map_or(0, |o| u16::from(o.ext_rcode) << 4);
                crate::wire::Rcode(u16::from(v.header_rcode()) | ext).to_string()
            }),
            answers: view.map_or(0, |v| v.ancount()),
            size: e.response.len(),
            tc: view.is_some_and(|v| v.truncated()),
        });
        queries.push(ClientQuery {
            at_ms: (e.query_ns.saturating_sub(start) / 1_000_000).max(0) as u64,
            client,
            name: e.name.clone(),
            qtype: e.qtype.to_string(),
            edns: e.edns,
            retry_tcp_on_tc: true,
            ..ClientQuery::default()
        });
    }
    let rules = replies
        .into_iter()
        .map(|((name, qtype), respond)| Rule {
            name: Some(name),
            qtype: Some(qtype),
            respond,
            cycle: false,
        })
        .collect();
    Replay {
        scenario: Scenario {
            title: "replay of a capture".into(),
            description:
                "the captured servers' answers, in capture order, as one scripted upstream".into(),
            upstreams: vec![ScriptedUpstream {
                label: "captured".into(),
                force_tcp: false,
                rules,
            }],
            queries,
            ..Scenario::default()
        },
        captured,
        left_out,
    }
}

/// Runs the replay's scenario and sets what dnspect answered beside what the capture holds.
pub fn run(replay: &Replay) -> Result<(SimResult, Vec<ReplayRow>), String> {
    let result = sim::run(&replay.scenario)?;
    let mut answers: BTreeMap<usize, &sim::ClientAnswer> = BTreeMap::new();
    for a in &result.answers {
        answers.insert(a.query, a);
    }
    let rows = replay
        .scenario
        .queries
        .iter()
        .zip(&replay.captured)
        .enumerate()
        .map(|(i, (q, c))| {
            let got = answers.get(&i);
            let differs =
                got.is_none_or(|a| a.rcode != c.rcode || a.answers.len() != usize::from(c.answers));
            ReplayRow {
                at_ms: q.at_ms,
                name: q.name.clone(),
                qtype: q.qtype.clone(),
                captured: c.clone(),
                dnspect: got.map(|a| {
                    format!(
                        "{} an={} {} B{} over {}",
                        a.rcode,
                        a.answers.len(),
                        a.size,
                        if a.tc { " TC" } else { "" },
                        a.transport
                    )
                }),
                differs,
            }
        })
        .collect();
    Ok((result, rows))
}
