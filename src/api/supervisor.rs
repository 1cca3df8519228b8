//! SupervisorService: live queue figures for duty supervisors.

use std::time::Duration;

use tonic::{Request, Response, Status};

use super::{AppState, duration, now_ms, store_status};
use crate::domain::Channel;
use crate::domain::routing::ALERT_QUEUE;
use crate::pb::{self, supervisor_service_server::SupervisorService};
use crate::store::CHANNEL_ORDER;

pub struct SupervisorApi {
    pub state: AppState,
}

#[tonic::async_trait]
impl SupervisorService for SupervisorApi {
    #[tracing::instrument(name = "ListQueues", skip_all)]
    async fn list_queues(
        &self,
        request: Request<pb::ListQueuesRequest>,
    ) -> Result<Response<pb::ListQueuesResponse>, Status> {
        let team_id = request.get_ref().team_id.trim();
        let county = &self.state.config.county;
        let teams: Vec<&str> = if team_id.is_empty() {
            county.teams.iter().map(|t| t.id.as_str()).collect()
        } else {
            let t = county
                .team(team_id)
                .ok_or_else(|| super::invalid("team_id", format!("no team `{team_id}`")))?;
            vec![t.id.as_str()]
        };
        // Every channel queue, and the alert queue (counted against phone availability: any
        // connected professional takes an emergency whatever their load).
        let mut queues: Vec<(String, String, Channel)> = Vec::new();
        for t in &teams {
            queues.push((t.to_string(), ALERT_QUEUE.to_string(), Channel::Phone));
            for ch in CHANNEL_ORDER {
                queues.push((t.to_string(), ch.code().to_string(), ch));
            }
        }
        let now = now_ms();
        let figures = self
            .state
            .store
            .queue_figures(&queues, now + 3_600_000)
            .await
            .map_err(store_status)?;
        let out = queues
            .iter()
            .zip(figures)
            .map(|((team, queue, _), f)| pb::QueueSummary {
                team_id: team.clone(),
                queue: queue.clone(),
                depth: f.depth as u32,
                oldest_wait: f
                    .oldest_arrival_ms
                    .map(|a| duration(Duration::from_millis((now - a).max(0) as u64))),
                due_within_hour: f.due_by_horizon as u32,
                available_professionals: f.available as u32,
                emergencies_waiting: if queue == ALERT_QUEUE {
                    f.depth as u32
                } else {
                    0
                },
            })
            .collect();
        Ok(Response::new(pb::ListQueuesResponse { queues: out }))
    }
}
