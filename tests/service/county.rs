//! `TestCounty`: the example county running for one test — its own `redis-server` on a free
//! loopback port and Luotsi served in-process on port 0 — and the verbs the tests tell their
//! stories with: citizens submit, professionals go online and take offers, supervisors act.
//!
//! Every gRPC request is built and every response unpacked here, so that a change to the API
//! touches this file rather than every test. Dropping the county stops the service and then its
//! Redis; `stop` does the same for a test that must know the service has finished.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use luotsi::auth::Role;
use luotsi::client::authorized;
use luotsi::config::Config;
use luotsi::pb;
use luotsi::pb::contact_service_client::ContactServiceClient;
use luotsi::pb::supervisor_service_client::SupervisorServiceClient;
use luotsi::pb::work_service_client::WorkServiceClient;
use luotsi::store::Keys;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::{Request, Status, Streaming};

use crate::harness::{self, Luotsi, RedisCluster, RedisServer, RedisUser};

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(5);

/// One county: Redis, one or more Luotsi instances sharing it, and the professionals' desktops.
pub struct TestCounty {
    // Fields drop in this order: the desktops disconnect, the service stops, then Redis goes.
    desks: Mutex<HashMap<String, Desk>>,
    /// Tokens minted for the people and systems of the test, by who they are.
    tokens: Mutex<HashMap<String, String>>,
    /// Case access tokens the front end was given, by case and by contact id.
    case_tokens: Mutex<HashMap<String, String>>,
    instances: Vec<Instance>,
    config: Config,
    keys: Keys,
    redis: Backing,
}

/// What a county's instances run on: a Redis of its own, or a Redis Cluster it may share with
/// other counties, as its own user or the default one.
enum Backing {
    Server(RedisServer),
    Cluster {
        cluster: Arc<RedisCluster>,
        user: Option<RedisUser>,
    },
}

/// Anything that names a case: its id, or an answer, offer or case that carries it.
pub trait CaseRef {
    fn case_id(&self) -> &str;
}

impl CaseRef for str {
    fn case_id(&self) -> &str {
        self
    }
}

impl CaseRef for String {
    fn case_id(&self) -> &str {
        self
    }
}

impl CaseRef for pb::SubmitContactResponse {
    fn case_id(&self) -> &str {
        &self.case_id
    }
}

impl CaseRef for pb::Offer {
    fn case_id(&self) -> &str {
        &self.case_id
    }
}

impl CaseRef for pb::Case {
    fn case_id(&self) -> &str {
        &self.case_id
    }
}

impl TestCounty {
    /// The example county as the README runs it.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// The example county with its configuration changed first (shorter waits, another team…).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = harness::config();
        tweak(&mut config);
        Self::launch(1, config).await
    }

    /// The example county served by `n` Luotsi instances sharing one Redis, numbered from 0
    /// for the `_via` verbs; the other verbs use instance 0.
    pub async fn start_instances(n: usize) -> Self {
        Self::launch(n, harness::config()).await
    }

    /// `n` instances with their configuration changed first.
    pub async fn start_instances_with(n: usize, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = harness::config();
        tweak(&mut config);
        Self::launch(n, config).await
    }

    /// The example county on a Redis of the test's own making (an ACL user's, say).
    pub async fn start_on(redis: RedisServer) -> Self {
        Self::launch_on(redis, 1, harness::config()).await
    }

    async fn launch(n: usize, config: Config) -> Self {
        Self::launch_on(RedisServer::start(), n, config).await
    }

    /// `n` instances on a Redis Cluster, connecting as `user` (the default user when None),
    /// with their configuration changed first.
    pub async fn start_on_cluster(
        cluster: Arc<RedisCluster>,
        user: Option<RedisUser>,
        n: usize,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = harness::config();
        tweak(&mut config);
        Self::launch_with(Backing::Cluster { cluster, user }, n, config).await
    }

    async fn launch_on(redis: RedisServer, n: usize, config: Config) -> Self {
        Self::launch_with(Backing::Server(redis), n, config).await
    }

    async fn launch_with(redis: Backing, n: usize, config: Config) -> Self {
        let mut instances = Vec::new();
        for _ in 0..n {
            instances.push(Instance::start(&redis, &config).await);
        }
        Self {
            desks: Mutex::default(),
            tokens: Mutex::default(),
            case_tokens: Mutex::default(),
            instances,
            keys: Keys::new(&config.county.id),
            config,
            redis,
        }
    }

    /// Stops serving and then Redis, and returns once the service's tasks have ended.
    pub async fn stop(self) {
        let Self {
            desks, instances, ..
        } = self;
        drop(desks);
        for instance in instances {
            instance.service.stop().await;
        }
    }

    /// Stops every instance, like a process exit (the desktops lose their connections), and
    /// starts them again on the same Redis with the same configuration.
    pub async fn restart_service(&mut self) {
        self.desks.get_mut().unwrap().clear();
        let n = self.instances.len();
        for instance in self.instances.drain(..) {
            instance.service.stop().await;
        }
        for _ in 0..n {
            self.instances
                .push(Instance::start(&self.redis, &self.config).await);
        }
    }

    /// Instance `i` dies as if killed with `kill -9`: its loops stop where they are and nothing
    /// is cleaned up; the desktops connected to it lose their streams. Its verbs then fail.
    pub fn crash_instance(&mut self, i: usize) {
        // Dead first, so that the desktops going away afterwards clean nothing up.
        self.instances[i].service.crash();
        self.desks
            .get_mut()
            .unwrap()
            .retain(|_, desk| desk.instance != i);
    }

    /// Starts instance `i` afresh (after `crash_instance`), on the same Redis.
    pub async fn restart_instance(&mut self, i: usize) {
        self.instances[i] = Instance::start(&self.redis, &self.config).await;
    }

    /// The county's own Redis server (not a cluster's).
    fn server(&self) -> &RedisServer {
        match &self.redis {
            Backing::Server(s) => s,
            Backing::Cluster { .. } => panic!("this county runs on a cluster"),
        }
    }

    fn server_mut(&mut self) -> &mut RedisServer {
        match &mut self.redis {
            Backing::Server(s) => s,
            Backing::Cluster { .. } => panic!("this county runs on a cluster"),
        }
    }

    /// Stops Redis cleanly and starts it again on the same port with the same files.
    pub fn restart_redis(&mut self) {
        self.server_mut().restart();
    }

    /// Stops Redis cleanly; `start_redis_again` brings it back with the same files.
    pub fn stop_redis(&mut self) {
        self.server_mut().stop();
    }

    pub fn start_redis_again(&mut self) {
        self.server_mut().start_again();
    }

    /// Freezes Redis (SIGSTOP): it keeps its connections open and answers nothing until
    /// `thaw_redis`.
    pub fn freeze_redis(&self) {
        self.server().signal("STOP");
    }

    pub fn thaw_redis(&self) {
        self.server().signal("CONT");
    }

    // ---- What the tests look at beside the API --------------------------------------------

    /// The county's key names.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn redis_url(&self) -> String {
        self.server().url()
    }

    /// The directory holding the county's Redis files (append-only file).
    #[allow(dead_code)] // tests/at_rest.rs
    pub fn redis_dir(&self) -> std::path::PathBuf {
        self.server().dir().to_path_buf()
    }

    /// The store of instance 0, as the service holds it (its data key file's sealer).
    pub fn store(&self) -> luotsi::store::Store {
        self.instances[0].service.store()
    }

    /// A plain connection to the county's Redis, for reading what is stored.
    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(self.redis_url())
            .and_then(|c| c.get_connection())
            .expect("a Redis connection")
    }

    /// How many keys Redis holds.
    pub fn dbsize(&self) -> i64 {
        redis::cmd("DBSIZE").query(&mut self.redis()).unwrap()
    }

    /// Every key and its serialised value, sorted: equal before and after means nothing was
    /// written in between. The presence leases are left out: the instance renews those of
    /// connected professionals every second, whatever the calls.
    pub fn stored(&self) -> Vec<(String, Vec<u8>)> {
        let mut conn = self.redis();
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
        keys.retain(|k| *k != self.keys.leases());
        keys.sort();
        keys.into_iter()
            .map(|k| {
                let v: Option<Vec<u8>> = redis::cmd("DUMP").arg(&k).query(&mut conn).unwrap();
                (k, v.unwrap_or_default())
            })
            .collect()
    }

    /// The gRPC address of instance 0.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.instances[0].service.addr
    }

    /// The HTTP address of instance 0: queue board, metrics, health.
    pub fn http_addr(&self) -> SocketAddr {
        self.instances[0].service.http_addr
    }

    /// An HTTP GET on instance 0's HTTP port as the duty supervisor (the board needs a
    /// supervisor's or ops token; metrics and health need none): status and body.
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        let token = self.token("sup:duty-supervisor", || {
            harness::supervisor_token("duty-supervisor", &["*"])
        });
        harness::http_get(self.http_addr(), path, Some(&token)).await
    }

    /// The same without a credential.
    pub async fn http_get_anonymous(&self, path: &str) -> (u16, String) {
        harness::http_get(self.http_addr(), path, None).await
    }

    /// The standard gRPC health check's status for `service` ("" for the whole server).
    /// Every instance puts a changed configuration in use, as SIGHUP would.
    pub async fn reload(
        &self,
        tweak: impl Fn(&mut luotsi::config::Config),
    ) -> luotsi::reload::CountyReloaded {
        let mut last = None;
        for i in &self.instances {
            last = Some(i.service.reload(&tweak).await.expect("reloaded"));
        }
        last.expect("an instance")
    }

    /// The refusal instance 0 gives a changed configuration.
    pub async fn instances_reload_error(
        &self,
        tweak: impl Fn(&mut luotsi::config::Config),
    ) -> String {
        self.instances[0]
            .service
            .reload(&tweak)
            .await
            .expect_err("refused")
            .to_string()
    }

    pub async fn health(&self, service: &str) -> i32 {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        HealthClient::new(self.instances[0].service.channel().await)
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner()
            .status
    }

    // ---- Citizens ---------------------------------------------------------------------------

    pub async fn submit(&self, contact: pb::SubmitContactRequest) -> pb::SubmitContactResponse {
        self.submit_via(0, contact).await
    }

    pub async fn submit_via(
        &self,
        instance: usize,
        contact: pb::SubmitContactRequest,
    ) -> pb::SubmitContactResponse {
        self.instances[instance]
            .contact
            .clone()
            .submit_contact(self.as_frontend(contact))
            .await
            .map(|r| self.remember(r.into_inner()))
            .expect("submitted")
    }

    pub async fn try_submit(
        &self,
        contact: pb::SubmitContactRequest,
    ) -> Result<pb::SubmitContactResponse, Status> {
        self.contact()
            .submit_contact(self.as_frontend(contact))
            .await
            .map(|r| self.remember(r.into_inner()))
    }

    /// The case as anyone but its holder sees it.
    pub async fn case(&self, case: &(impl CaseRef + ?Sized)) -> pb::Case {
        self.try_case(case).await.expect("case")
    }

    pub async fn try_case(&self, case: &(impl CaseRef + ?Sized)) -> Result<pb::Case, Status> {
        self.contact()
            .get_case(self.as_supervisor(pb::GetCaseRequest {
                case_id: case.case_id().into(),
                purpose: pb::PurposeOfUse::Supervision as i32,
                case_access_token: String::new(),
            }))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    /// The case's updates as the citizen's app follows them: the current state first.
    pub async fn watch(&self, case: &(impl CaseRef + ?Sized)) -> Updates<pb::CaseUpdate> {
        self.try_watch(case).await.expect("watching")
    }

    pub async fn try_watch(
        &self,
        case: &(impl CaseRef + ?Sized),
    ) -> Result<Updates<pb::CaseUpdate>, Status> {
        self.contact()
            .watch_case(self.as_supervisor(pb::WatchCaseRequest {
                case_id: case.case_id().into(),
                purpose: pb::PurposeOfUse::Supervision as i32,
                case_access_token: String::new(),
            }))
            .await
            .map(|r| Updates::new(r.into_inner(), |m: pb::WatchCaseResponse| m.update))
    }

    /// The citizen withdraws one contact; the case as it is afterwards.
    pub async fn cancel_contact(&self, contact_id: &str) -> pb::Case {
        self.try_cancel_contact(contact_id)
            .await
            .expect("cancelled")
    }

    pub async fn try_cancel_contact(&self, contact_id: &str) -> Result<pb::Case, Status> {
        self.contact()
            .cancel_contact(self.as_frontend(pb::CancelContactRequest {
                contact_id: contact_id.into(),
                case_access_token: self.contact_token(contact_id),
            }))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    /// The citizen of an unanswered chat takes the call-back offered.
    pub async fn accept_callback(&self, case: &(impl CaseRef + ?Sized), number: &str) -> pb::Case {
        self.try_accept_callback(case, number)
            .await
            .expect("call-back taken")
    }

    pub async fn try_accept_callback(
        &self,
        case: &(impl CaseRef + ?Sized),
        number: &str,
    ) -> Result<pb::Case, Status> {
        self.contact()
            .accept_callback(self.as_frontend(pb::AcceptCallbackRequest {
                case_id: case.case_id().into(),
                callback_number: number.into(),
                case_access_token: self.case_token(case.case_id()),
            }))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    // ---- Professionals ----------------------------------------------------------------------

    /// The professional becomes available with their configured capacity and their desktop
    /// opens its offers stream.
    pub async fn go_online(&self, pro: &str) {
        self.open_desk(0, pro, vec![]).await;
    }

    /// The same, through another instance of the service.
    pub async fn go_online_via(&self, instance: usize, pro: &str) {
        self.open_desk(instance, pro, vec![]).await;
    }

    /// The same, with the capacity of the channels named overridden.
    pub async fn go_online_with_capacity(&self, pro: &str, capacities: &[(pb::Channel, u32)]) {
        let capacities = capacities
            .iter()
            .map(|&(channel, capacity)| pb::ChannelCapacity {
                channel: channel as i32,
                capacity,
            })
            .collect();
        self.open_desk(0, pro, capacities).await;
    }

    async fn open_desk(&self, instance: usize, pro: &str, capacities: Vec<pb::ChannelCapacity>) {
        // A connection of its own, so that a desktop that goes away goes away alone.
        let mut work = self.instances[instance].service.work().await;
        work.set_presence(self.as_pro(
            pro,
            pb::SetPresenceRequest {
                professional_id: pro.into(),
                presence: pb::Presence::Available as i32,
                capacities,
            },
        ))
        .await
        .expect("presence set");
        let stream = work
            .offers(self.as_pro(
                pro,
                pb::OffersRequest {
                    professional_id: pro.into(),
                },
            ))
            .await
            .expect("offers stream")
            .into_inner();
        let desk = Desk::open(instance, stream);
        self.desks.lock().unwrap().insert(pro.into(), desk);
    }

    /// The professional opens another Offers stream through `instance`, as a second desktop or
    /// a reconnection the service has not noticed yet would: it becomes their desktop, and the
    /// older one is handed back to watch it end.
    pub async fn reopen_offers_via(&self, instance: usize, pro: &str) -> OlderDesk {
        let stream = self.instances[instance]
            .service
            .work()
            .await
            .offers(self.as_pro(
                pro,
                pb::OffersRequest {
                    professional_id: pro.into(),
                },
            ))
            .await
            .expect("offers stream")
            .into_inner();
        let older = self
            .desks
            .lock()
            .unwrap()
            .insert(pro.into(), Desk::open(instance, stream))
            .unwrap_or_else(|| panic!("{pro} had no desktop open"));
        OlderDesk(older)
    }

    /// The professional's desktop loses its connection: the offers stream closes.
    pub fn disconnect(&self, pro: &str) {
        self.desks.lock().unwrap().remove(pro);
    }

    /// The next offer on the professional's desktop; fails the test if none comes within `WAIT`.
    pub async fn next_offer(&self, pro: &str) -> pb::Offer {
        self.offer_within(pro, WAIT)
            .await
            .unwrap_or_else(|| panic!("no offer to {pro} within {WAIT:?}"))
    }

    /// The next offer on the professional's desktop, or `None` if none comes within `within`.
    pub async fn offer_within(&self, pro: &str, within: Duration) -> Option<pb::Offer> {
        let offers = self
            .desks
            .lock()
            .unwrap()
            .get(pro)
            .unwrap_or_else(|| panic!("{pro} has no desktop open: go_online first"))
            .offers
            .clone();
        let mut offers = offers.lock().await;
        match tokio::time::timeout(within, offers.recv()).await {
            Ok(Some(Ok(offer))) => Some(offer),
            Ok(other) => panic!("offers stream of {pro} ended: {other:?}"),
            Err(_) => None,
        }
    }

    pub async fn set_presence(&self, pro: &str, presence: pb::Presence) -> pb::ProfessionalState {
        self.try_set_presence(pro, presence)
            .await
            .expect("presence set")
    }

    pub async fn try_set_presence(
        &self,
        pro: &str,
        presence: impl Into<i32>,
    ) -> Result<pb::ProfessionalState, Status> {
        self.work(pro)
            .set_presence(self.as_pro(
                pro,
                pb::SetPresenceRequest {
                    professional_id: pro.into(),
                    presence: presence.into(),
                    capacities: vec![],
                },
            ))
            .await
            .map(|r| r.into_inner().state.expect("state in the answer"))
    }

    /// The professional takes an offered case (or answers a consultation); the case as its
    /// holder sees it.
    pub async fn accept(&self, pro: &str, case: &(impl CaseRef + ?Sized)) -> pb::Case {
        self.try_accept(pro, case).await.expect("accepted")
    }

    pub async fn try_accept(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
    ) -> Result<pb::Case, Status> {
        self.work(pro)
            .accept_offer(self.as_pro(
                pro,
                pb::AcceptOfferRequest {
                    professional_id: pro.into(),
                    case_id: case.case_id().into(),
                    purpose: pb::PurposeOfUse::CareRelationship as i32,
                },
            ))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    pub async fn decline(&self, pro: &str, case: &(impl CaseRef + ?Sized), reason: &str) {
        self.try_decline(pro, case, reason).await.expect("declined");
    }

    pub async fn try_decline(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        reason: &str,
    ) -> Result<(), Status> {
        self.work(pro)
            .decline_offer(self.as_pro(
                pro,
                pb::DeclineOfferRequest {
                    professional_id: pro.into(),
                    case_id: case.case_id().into(),
                    reason: reason.into(),
                },
            ))
            .await
            .map(|_| ())
    }

    /// The professional completes the case, resolved at first contact.
    pub async fn complete(&self, pro: &str, case: &(impl CaseRef + ?Sized)) -> pb::Case {
        self.complete_with(pro, case, pb::Outcome::ResolvedAtFirstContact)
            .await
    }

    pub async fn complete_with(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        outcome: pb::Outcome,
    ) -> pb::Case {
        self.try_complete(pro, case, outcome)
            .await
            .expect("completed")
    }

    pub async fn try_complete(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        outcome: impl Into<i32>,
    ) -> Result<pb::Case, Status> {
        self.work(pro)
            .complete_case(self.as_pro(
                pro,
                pb::CompleteCaseRequest {
                    professional_id: pro.into(),
                    case_id: case.case_id().into(),
                    outcome: outcome.into(),
                    purpose: pb::PurposeOfUse::CareRelationship as i32,
                },
            ))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    /// The holder records a call-back attempt.
    pub async fn call_attempt(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        outcome: pb::CallOutcome,
    ) -> pb::RecordCallAttemptResponse {
        self.try_call_attempt(pro, case, outcome as i32)
            .await
            .expect("attempt recorded")
    }

    pub async fn try_call_attempt(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        outcome: i32,
    ) -> Result<pb::RecordCallAttemptResponse, Status> {
        self.work(pro)
            .record_call_attempt(self.as_pro(
                pro,
                pb::RecordCallAttemptRequest {
                    professional_id: pro.into(),
                    case_id: case.case_id().into(),
                    outcome,
                    purpose: pb::PurposeOfUse::CareRelationship as i32,
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// The staffing forecast for a day, as the duty supervisor asks for it.
    pub async fn plan_staffing(&self, date: &str, team: &str) -> pb::PlanStaffingResponse {
        self.try_plan_staffing(date, team)
            .await
            .expect("a forecast")
    }

    pub async fn try_plan_staffing(
        &self,
        date: &str,
        team: &str,
    ) -> Result<pb::PlanStaffingResponse, Status> {
        self.supervisors()
            .plan_staffing(self.as_supervisor(pb::PlanStaffingRequest {
                date: date.into(),
                team_id: team.into(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    /// The county's monthly report, as the duty supervisor asks for it.
    pub async fn monthly_report(&self, month: &str) -> pb::GetMonthlyReportResponse {
        self.try_monthly_report(month).await.expect("a report")
    }

    pub async fn try_monthly_report(
        &self,
        month: &str,
    ) -> Result<pb::GetMonthlyReportResponse, Status> {
        self.supervisors()
            .get_monthly_report(self.as_supervisor(pb::GetMonthlyReportRequest {
                month: month.into(),
                team_id: String::new(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    /// Unreachable call-backs, as the duty supervisor lists them.
    pub async fn unreachable(&self, team: &str) -> Vec<pb::UnreachableCase> {
        self.supervisors()
            .list_unreachable(self.as_supervisor(pb::ListUnreachableRequest {
                team_id: team.into(),
            }))
            .await
            .expect("unreachable listed")
            .into_inner()
            .cases
    }

    /// The holder hands the case over to a colleague of the team, past the queue.
    pub async fn transfer(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        to: &str,
        reason: &str,
    ) -> pb::Case {
        self.try_transfer(pro, case, to, reason)
            .await
            .expect("handed over")
    }

    pub async fn try_transfer(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        to: &str,
        reason: &str,
    ) -> Result<pb::Case, Status> {
        self.work(pro)
            .transfer_case(self.as_pro(
                pro,
                pb::TransferCaseRequest {
                    professional_id: pro.into(),
                    case_id: case.case_id().into(),
                    to_professional_id: to.into(),
                    reason: reason.into(),
                    purpose: pb::PurposeOfUse::CareRelationship as i32,
                },
            ))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    /// The holder asks a colleague of a profession to consult; the case stays theirs.
    pub async fn consult_profession(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        profession: &str,
    ) -> pb::Case {
        self.try_consult_profession(pro, case, profession)
            .await
            .expect("consultation asked")
    }

    pub async fn try_consult_profession(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        profession: &str,
    ) -> Result<pb::Case, Status> {
        self.request_consultation(pro, case, "", profession).await
    }

    /// The holder asks one named colleague to consult.
    pub async fn try_consult_colleague(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        colleague: &str,
    ) -> Result<pb::Case, Status> {
        self.request_consultation(pro, case, colleague, "").await
    }

    async fn request_consultation(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        colleague: &str,
        profession: &str,
    ) -> Result<pb::Case, Status> {
        self.work(pro)
            .request_consultation(self.as_pro(
                pro,
                pb::RequestConsultationRequest {
                    professional_id: pro.into(),
                    case_id: case.case_id().into(),
                    colleague_id: colleague.into(),
                    profession: profession.into(),
                    purpose: pb::PurposeOfUse::CareRelationship as i32,
                },
            ))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    // ---- Triage (the first look) -------------------------------------------------------------

    /// The team's cases awaiting a first look, oldest first (`page_size` 0: the default).
    pub async fn unconfirmed(
        &self,
        team: &str,
        page_size: u32,
        page: u32,
    ) -> pb::ListUnconfirmedResponse {
        // As the team's first member: the first look is the team's own.
        let nurse = self
            .config
            .county
            .team(team)
            .and_then(|t| t.members.first())
            .map(|m| m.id.clone())
            .unwrap_or_default();
        self.instances[0]
            .work
            .clone()
            .list_unconfirmed(self.as_pro(
                &nurse,
                pb::ListUnconfirmedRequest {
                    team_id: team.into(),
                    page_size,
                    page,
                },
            ))
            .await
            .expect("unconfirmed cases")
            .into_inner()
    }

    /// A professional looks at the case: keeps (`needs` empty, `urgency` UNSPECIFIED) or
    /// corrects its classification.
    pub async fn try_confirm_triage(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        needs: &[&str],
        urgency: pb::Urgency,
        reason: pb::TriageReason,
    ) -> Result<pb::ConfirmTriageResponse, Status> {
        self.work(pro)
            .confirm_triage(self.as_pro(
                pro,
                pb::ConfirmTriageRequest {
                    case_id: case.case_id().into(),
                    professional_id: pro.into(),
                    needs: needs.iter().map(|n| n.to_string()).collect(),
                    urgency: urgency as i32,
                    reason: reason as i32,
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn confirm_triage(
        &self,
        pro: &str,
        case: &(impl CaseRef + ?Sized),
        needs: &[&str],
        urgency: pb::Urgency,
        reason: pb::TriageReason,
    ) -> pb::ConfirmTriageResponse {
        self.try_confirm_triage(pro, case, needs, urgency, reason)
            .await
            .expect("triage confirmed")
    }

    // ---- Supervisors ------------------------------------------------------------------------

    /// The cases waiting in all of the team's queues.
    pub async fn depth(&self, team: &str) -> u32 {
        self.try_queues(team)
            .await
            .expect("queues")
            .iter()
            .map(|q| q.depth)
            .sum()
    }

    pub async fn try_queues(&self, team: &str) -> Result<Vec<pb::QueueSummary>, Status> {
        self.try_list_queues(team).await.map(|r| r.queues)
    }

    /// ListQueues' whole answer: the figures and whether they are the board's last known.
    pub async fn try_list_queues(&self, team: &str) -> Result<pb::ListQueuesResponse, Status> {
        self.supervisors()
            .list_queues(self.as_supervisor(pb::ListQueuesRequest {
                team_id: team.into(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    /// The team's waiting cases, most urgent first (`queue` empty: every queue; `limit` 0: the
    /// default).
    pub async fn queued_cases(&self, team: &str, queue: &str, limit: u32) -> Vec<pb::QueuedCase> {
        self.try_queued_cases(team, queue, limit)
            .await
            .expect("queued cases")
    }

    pub async fn try_queued_cases(
        &self,
        team: &str,
        queue: &str,
        limit: u32,
    ) -> Result<Vec<pb::QueuedCase>, Status> {
        self.supervisors()
            .list_queued_cases(self.as_supervisor(pb::ListQueuedCasesRequest {
                team_id: team.into(),
                queue: queue.into(),
                limit,
                purpose: pb::PurposeOfUse::Supervision as i32,
            }))
            .await
            .map(|r| r.into_inner().cases)
    }

    /// The live queue board of a team ("" for every team): a snapshot at once, then one per
    /// change or heartbeat.
    pub async fn watch_queues(
        &self,
        team: &str,
        heartbeat: Option<Duration>,
    ) -> Updates<pb::QueueBoard> {
        self.try_watch_queues(team, heartbeat)
            .await
            .expect("watching the board")
    }

    pub async fn try_watch_queues(
        &self,
        team: &str,
        heartbeat: Option<Duration>,
    ) -> Result<Updates<pb::QueueBoard>, Status> {
        self.supervisors()
            .watch_queues(self.as_supervisor(pb::WatchQueuesRequest {
                team_id: team.into(),
                heartbeat: heartbeat.map(|d| prost_types::Duration {
                    seconds: d.as_secs() as i64,
                    nanos: d.subsec_nanos() as i32,
                }),
            }))
            .await
            .map(|r| Updates::new(r.into_inner(), |m: pb::WatchQueuesResponse| m.board))
    }

    /// Cases in progress whose holder is disconnected, of a team ("" for every team).
    pub async fn disconnected_holders(&self, team: &str) -> Vec<pb::DisconnectedHolder> {
        self.supervisors()
            .list_disconnected_holders(self.as_supervisor(pb::ListDisconnectedHoldersRequest {
                team_id: team.into(),
            }))
            .await
            .expect("disconnected holders")
            .into_inner()
            .holders
    }

    /// The team's figures over the default period.
    pub async fn team_stats(&self, team: &str) -> pb::Stats {
        self.try_stats(team, None, None).await.expect("stats")
    }

    /// The whole county's figures over the default period.
    pub async fn county_stats(&self) -> pb::Stats {
        self.try_stats("", None, None).await.expect("stats")
    }

    /// Figures of a team ("" for the whole county) from and to the given Unix seconds.
    pub async fn try_stats(
        &self,
        team: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<pb::Stats, Status> {
        let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
        self.try_stats_at(team, from.map(at), to.map(at)).await
    }

    pub async fn try_stats_at(
        &self,
        team: &str,
        from: Option<prost_types::Timestamp>,
        to: Option<prost_types::Timestamp>,
    ) -> Result<pb::Stats, Status> {
        self.supervisors()
            .get_stats(self.as_supervisor(pb::GetStatsRequest {
                team_id: team.into(),
                from,
                to,
            }))
            .await
            .map(|r| r.into_inner().stats.expect("stats in the answer"))
    }

    /// A duty supervisor, for the actions that are recorded with who took them and why.
    pub fn supervisor(&self, id: &str) -> Supervisor<'_> {
        Supervisor {
            county: self,
            id: id.into(),
        }
    }

    // ---- Credentials ------------------------------------------------------------------------

    /// A token, minted once per test county and kept.
    fn token(&self, key: &str, mint: impl FnOnce() -> String) -> String {
        self.tokens
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(mint)
            .clone()
    }

    /// As the professional, with their own token.
    fn as_pro<T>(&self, pro: &str, message: T) -> Request<T> {
        let token = self.token(&format!("pro:{pro}"), || {
            harness::token(Role::Professional, pro)
        });
        authorized(message, &token)
    }

    /// As the county-wide duty supervisor.
    fn as_supervisor<T>(&self, message: T) -> Request<T> {
        self.as_supervisor_named("duty-supervisor", message)
    }

    fn as_supervisor_named<T>(&self, who: &str, message: T) -> Request<T> {
        let token = self.token(&format!("sup:{who}"), || {
            harness::supervisor_token(who, &["*"])
        });
        authorized(message, &token)
    }

    /// As the citizens' e-service front end.
    fn as_frontend<T>(&self, message: T) -> Request<T> {
        let token = self.token("frontend", || {
            harness::token(Role::CitizenFrontend, "e-service")
        });
        authorized(message, &token)
    }

    /// Keeps the case access token an answer carries, for the citizen's later calls.
    fn remember(&self, answer: pb::SubmitContactResponse) -> pb::SubmitContactResponse {
        let mut kept = self.case_tokens.lock().unwrap();
        kept.insert(answer.case_id.clone(), answer.case_access_token.clone());
        kept.insert(answer.contact_id.clone(), answer.case_access_token.clone());
        answer
    }

    /// The case access token the front end was given for a case (or for a contact's case).
    pub fn case_token(&self, case_or_contact: &str) -> String {
        self.case_tokens
            .lock()
            .unwrap()
            .get(case_or_contact)
            .cloned()
            .unwrap_or_default()
    }

    fn contact_token(&self, contact_id: &str) -> String {
        self.case_token(contact_id)
    }

    // ---- Clients ----------------------------------------------------------------------------

    /// A channel of its own to instance 0, for calls a test makes with its own credentials.
    pub async fn channel(&self) -> Channel {
        self.instances[0].service.channel().await
    }

    /// The access log as `ops` reads it, oldest first (this read is logged too).
    pub async fn access_log(&self) -> Vec<pb::AccessLogEntry> {
        let token = self.token("ops:auditor", || harness::token(Role::Ops, "auditor"));
        pb::access_log_service_client::AccessLogServiceClient::new(self.channel().await)
            .read_access_log(authorized(
                pb::ReadAccessLogRequest {
                    from: Some(prost_types::Timestamp::default()),
                    purpose: pb::PurposeOfUse::QualityAssurance as i32,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .expect("the access log")
            .into_inner()
            .entries
    }

    fn contact(&self) -> ContactServiceClient<Channel> {
        self.instances[0].contact.clone()
    }

    fn supervisors(&self) -> SupervisorServiceClient<Channel> {
        self.instances[0].supervisor.clone()
    }

    /// The professional's calls go through the instance their desktop is connected to.
    fn work(&self, pro: &str) -> WorkServiceClient<Channel> {
        let instance = self
            .desks
            .lock()
            .unwrap()
            .get(pro)
            .map_or(0, |d| d.instance);
        self.instances[instance].work.clone()
    }
}

/// A duty supervisor of the county.
pub struct Supervisor<'a> {
    county: &'a TestCounty,
    id: String,
}

impl Supervisor<'_> {
    /// Moves a waiting case to another team or queue ("" keeps it).
    pub async fn move_case(
        &self,
        case: &(impl CaseRef + ?Sized),
        team: &str,
        queue: &str,
        reason: &str,
    ) -> pb::Case {
        self.try_move_case(case, team, queue, reason)
            .await
            .expect("moved")
    }

    pub async fn try_move_case(
        &self,
        case: &(impl CaseRef + ?Sized),
        team: &str,
        queue: &str,
        reason: &str,
    ) -> Result<pb::Case, Status> {
        self.county
            .supervisors()
            .move_case(self.county.as_supervisor_named(
                &self.id,
                pb::MoveCaseRequest {
                    case_id: case.case_id().into(),
                    team_id: team.into(),
                    queue: queue.into(),
                    supervisor_id: self.id.clone(),
                    reason: reason.into(),
                    purpose: pb::PurposeOfUse::Supervision as i32,
                },
            ))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    pub async fn set_urgency(
        &self,
        case: &(impl CaseRef + ?Sized),
        urgency: pb::Urgency,
        reason: &str,
    ) -> pb::Case {
        self.try_set_urgency(case, urgency, reason)
            .await
            .expect("urgency set")
    }

    pub async fn try_set_urgency(
        &self,
        case: &(impl CaseRef + ?Sized),
        urgency: impl Into<i32>,
        reason: &str,
    ) -> Result<pb::Case, Status> {
        self.county
            .supervisors()
            .set_urgency(self.county.as_supervisor_named(
                &self.id,
                pb::SetUrgencyRequest {
                    case_id: case.case_id().into(),
                    urgency: urgency.into(),
                    supervisor_id: self.id.clone(),
                    reason: reason.into(),
                    purpose: pb::PurposeOfUse::Supervision as i32,
                },
            ))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }

    /// Takes an offer back from the professional it was made to; it goes to someone else.
    pub async fn release_offer(&self, case: &(impl CaseRef + ?Sized), reason: &str) -> pb::Case {
        self.try_release_offer(case, reason)
            .await
            .expect("released")
    }

    pub async fn try_release_offer(
        &self,
        case: &(impl CaseRef + ?Sized),
        reason: &str,
    ) -> Result<pb::Case, Status> {
        self.county
            .supervisors()
            .release_offer(self.county.as_supervisor_named(
                &self.id,
                pb::ReleaseOfferRequest {
                    case_id: case.case_id().into(),
                    supervisor_id: self.id.clone(),
                    reason: reason.into(),
                    purpose: pb::PurposeOfUse::Supervision as i32,
                },
            ))
            .await
            .map(|r| r.into_inner().case.expect("case in the answer"))
    }
}

/// One Luotsi instance and the clients the verbs share (a tonic channel multiplexes calls).
struct Instance {
    service: Luotsi,
    contact: ContactServiceClient<Channel>,
    work: WorkServiceClient<Channel>,
    supervisor: SupervisorServiceClient<Channel>,
}

impl Instance {
    async fn start(redis: &Backing, config: &Config) -> Self {
        let service = match redis {
            Backing::Server(redis) => Luotsi::start_with(redis, |c| *c = config.clone()).await,
            Backing::Cluster { cluster, user } => {
                Luotsi::start_on_cluster(cluster, user.as_ref(), |c| *c = config.clone()).await
            }
        };
        Self {
            contact: service.contact().await,
            work: service.work().await,
            supervisor: service.supervisor().await,
            service,
        }
    }
}

type OfferOrEnd = Result<pb::Offer, Status>;

/// A desktop whose Offers stream a newer one replaced.
pub struct OlderDesk(Desk);

impl OlderDesk {
    /// How the stream ended; fails the test if it is sent an offer first, ends without a
    /// status, or is still open after `WAIT`.
    pub async fn end(&self) -> Status {
        let mut offers = self.0.offers.lock().await;
        match tokio::time::timeout(WAIT, offers.recv()).await {
            Ok(Some(Err(status))) => status,
            Ok(Some(Ok(offer))) => panic!("an offer sent to a replaced stream: {offer:?}"),
            Ok(None) => panic!("the replaced stream ended without a status"),
            Err(_) => panic!("the replaced stream is still open after {WAIT:?}"),
        }
    }
}

/// A professional's desktop: its offers stream is read as offers arrive, so a test that does
/// not look at them (the simulated day) never holds the service up; the test reads them from
/// the queue here. Dropping the desktop closes the stream, as a lost connection does.
struct Desk {
    instance: usize,
    offers: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<OfferOrEnd>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Desk {
    fn open(instance: usize, stream: Streaming<pb::OffersResponse>) -> Self {
        let mut stream = Updates::new(stream, |m: pb::OffersResponse| m.offer);
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            // The channel closes when this task ends, which the reader sees as the stream's end.
            while let Some(next) = stream.message().await.transpose() {
                let failed = next.is_err();
                if tx.send(next).is_err() || failed {
                    break;
                }
            }
        });
        Self {
            instance,
            offers: Arc::new(tokio::sync::Mutex::new(rx)),
            reader,
        }
    }
}

impl Drop for Desk {
    /// Aborting drops the stream: the service sees the desktop go. Nothing is awaited here.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A server stream as a test reads it: each message is a per-call response wrapping one value
/// (an update, an offer, a board), handed out unwrapped. A message without its value is an
/// error, not the end of the stream.
pub struct Updates<T> {
    next: Box<dyn FnMut() -> BoxFuture<Result<Option<T>, Status>> + Send>,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<T> std::fmt::Debug for Updates<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Updates")
    }
}

impl<T: Send + 'static> Updates<T> {
    fn new<R: Send + 'static>(stream: Streaming<R>, take: fn(R) -> Option<T>) -> Self {
        let stream = Arc::new(tokio::sync::Mutex::new(stream));
        Updates {
            next: Box::new(move || {
                let stream = stream.clone();
                Box::pin(async move {
                    match stream.lock().await.message().await? {
                        None => Ok(None),
                        Some(m) => take(m)
                            .map(Some)
                            .ok_or_else(|| Status::internal("a stream message without its value")),
                    }
                })
            }),
        }
    }

    /// The next value, or None when the stream ended.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        (self.next)().await
    }
}
