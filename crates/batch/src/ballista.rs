//! The batch job on an Apache DataFusion Ballista cluster: the same plans, UDFs and SQL, run by a
//! scheduler and executors that are this same binary (`pinpipe ballista-scheduler`,
//! `pinpipe ballista-executor`).
//!
//! A query's logical plan travels from the client to the scheduler, which plans it physically
//! (listing the lake's files), and stage plans travel on to the executors. So every node needs
//! the three cleaning UDFs and the lake's object store; the builders here give each node both,
//! from the same [`Lake`] config every command reads. The plans hold only ListingTables, views,
//! built-in operators and the named UDFs, which Ballista's default codecs carry.
//!
//! Two things differ from the in-process engine, both handled by the job: the Delta commit is
//! made by the client over files the executors wrote (crate::delta), and the executors' UDF
//! counters do not reach the client, so dead letters are counted by a query.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::RuntimeProducer;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use ballista_scheduler::scheduler_server::SessionBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use pinpipe_lake::Lake;

use crate::BatchError;
use crate::session::{BatchConfig, session_settings};
use crate::udf::{self, DeadLetterCounts};

/// Where the batch job's plans run: `[batch] engine` and `--engine`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// In this process (DataFusion).
    Local,
    /// On a Ballista cluster, through its scheduler.
    Ballista {
        /// The scheduler's host.
        host: String,
        /// The scheduler's gRPC port.
        port: u16,
    },
}

impl Engine {
    /// Parses `local` or `ballista://HOST:PORT`.
    pub fn parse(text: &str) -> Result<Engine, BatchError> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("local") {
            return Ok(Engine::Local);
        }
        let bad = || {
            BatchError::Engine(format!(
                "batch engine {text:?}: expected \"local\" or \"ballista://HOST:PORT\" (the \
                 address of a `pinpipe ballista-scheduler`)"
            ))
        };
        let address = text.strip_prefix("ballista://").ok_or_else(bad)?;
        let address = address.trim_end_matches('/');
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Engine::Ballista {
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
        })
    }

    /// How it is written in the config (`local`, `ballista://HOST:PORT`).
    pub fn url(&self) -> String {
        match self {
            Engine::Local => "local".to_owned(),
            Engine::Ballista { host, port } => format!("ballista://{host}:{port}"),
        }
    }
}

/// The session settings of every Ballista node and client: Ballista's own defaults, then
/// pinpipe's (crate::session), with the planner choices pinned so a new Ballista major cannot
/// change them unseen. Broadcast joins are off: the analytics' joins are sort-merge joins (they
/// spill), and Ballista has had wrong results from broadcast outer joins
/// (apache/datafusion-ballista#1055). The adaptive planner (55's default) is off: at 10M events
/// its range shuffle's reader could not get memory from an executor's 1 GiB pool and the job
/// failed ("Failed to allocate … for RangeShuffleReaderExec"); the static planner ran it
/// (docs/benchmarks.md), and the suite's equality test passes with it.
pub fn session_config(config: &BatchConfig) -> SessionConfig {
    session_settings(SessionConfig::new_with_ballista(), config)
        .set_bool("ballista.planner.adaptive.enabled", false)
        .set_usize("ballista.optimizer.broadcast_join_threshold_bytes", 0)
        .set_usize("ballista.optimizer.broadcast_join_threshold_rows", 0)
}

/// A runtime with the lake's object store registered (and spill files in `temp_dir`).
fn runtime(
    lake: &Lake,
    temp_dir: Option<&str>,
) -> datafusion::error::Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new();
    if let Some(dir) = temp_dir {
        builder = builder.with_temp_file_path(dir);
    }
    let env = builder.build_arc()?;
    env.register_object_store(&lake.store_url(), lake.store());
    Ok(env)
}

/// The scheduler's sessions: Ballista's default state plus the lake's store and the UDFs.
pub fn scheduler_session_builder(lake: Lake) -> SessionBuilder {
    Arc::new(move |config: SessionConfig| {
        let state = ballista_core::utils::default_session_builder(config)?;
        let state = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime(&lake, None)?)
            .build();
        Ok(with_udfs(crate::session::without_field_pushdown(state)).0)
    })
}

/// A state with the cleaning UDFs added (its other functions kept).
fn with_udfs(state: SessionState) -> (SessionState, DeadLetterCounts) {
    let ctx = SessionContext::new_with_state(state);
    let counts = udf::register(&ctx);
    (ctx.state(), counts)
}

/// What an executor registers: its functions (Ballista's plus the UDFs, whose counters are
/// returned, for the executor's own report), and a runtime producer with the lake's store.
pub fn executor_parts(
    lake: Lake,
    config: &BatchConfig,
    work_dir: String,
) -> Result<
    (
        Arc<BallistaFunctionRegistry>,
        RuntimeProducer,
        DeadLetterCounts,
    ),
    BatchError,
> {
    let state = ballista_core::utils::default_session_builder(session_config(config))?;
    let (state, counts) = with_udfs(state);
    let registry = Arc::new(BallistaFunctionRegistry::from(&state));
    let producer: RuntimeProducer =
        Arc::new(move |_config: &SessionConfig| runtime(&lake, Some(work_dir.as_str())));
    Ok((registry, producer, counts))
}

/// A client context whose queries run on the cluster: pinpipe's settings, the lake's store and
/// the UDFs (for planning; they run on the executors). Fails with a clear error when the
/// scheduler does not answer.
pub async fn client_context(
    lake: &Lake,
    config: &BatchConfig,
    host: &str,
    port: u16,
) -> Result<(SessionContext, DeadLetterCounts), BatchError> {
    reachable(host, port).await?;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(session_config(config))
        .with_runtime_env(runtime(lake, None)?)
        .build();
    let state = crate::session::without_field_pushdown(state);
    let ctx = SessionContext::remote_with_state(&format!("df://{host}:{port}"), state).await?;
    // After the upgrade: `upgrade_for_ballista` replaces the state's scalar functions with
    // Ballista's list, so UDFs put on the state before it would be gone (confirmed here:
    // ballista-core 55 extension.rs, `with_scalar_functions(ballista_scalar_functions())`).
    let counts = udf::register(&ctx);
    Ok((ctx, counts))
}

/// Checks that something listens at the scheduler's address (Ballista's client would otherwise
/// fail at the first query with a transport error).
async fn reachable(host: &str, port: u16) -> Result<(), BatchError> {
    let unreachable = |why: String| {
        BatchError::Engine(format!(
            "the Ballista scheduler at {host}:{port} cannot be reached ({why}); start it with \
             `pinpipe ballista-scheduler --bind {host}:{port}` or set [batch] engine = \"local\""
        ))
    };
    let addresses: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    let address = addresses
        .first()
        .ok_or_else(|| unreachable("no address".to_owned()))?;
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no answer in 5 s".to_owned())),
    }
}

/// What `pinpipe ballista-scheduler` serves on.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The address its gRPC service binds.
    pub bind: SocketAddr,
    /// The host name executors and clients reach it at [default: the bind address's IP].
    pub external_host: Option<String>,
}

/// Runs a Ballista scheduler whose sessions know pinpipe's UDFs and the lake's store, until
/// `stop` resolves.
pub async fn run_scheduler(
    lake: Lake,
    config: &BatchConfig,
    options: &SchedulerOptions,
    stop: impl Future<Output = ()>,
) -> Result<(), BatchError> {
    let producer_config = config.clone();
    let mut scheduler = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: options
            .external_host
            .clone()
            .unwrap_or_else(|| options.bind.ip().to_string()),
        ..SchedulerConfig::default()
    }
    .with_override_config_producer(Arc::new(move || session_config(&producer_config)))
    .with_override_session_builder(scheduler_session_builder(lake));
    scheduler.scheduler_id = format!("pinpipe-{}", scheduler.scheduler_id);
    let cluster = BallistaCluster::new_from_config(&scheduler).await?;
    tracing::info!(
        bind = %options.bind,
        "Ballista scheduler (Ballista {}, DataFusion {}) listening",
        ballista_core::BALLISTA_VERSION,
        datafusion::DATAFUSION_VERSION,
    );
    tokio::select! {
        served = start_server(cluster, options.bind, Arc::new(scheduler)) => served?,
        () = stop => tracing::info!("Ballista scheduler stopping"),
    }
    Ok(())
}

/// What `pinpipe ballista-executor` runs with.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host.
    pub scheduler_host: String,
    /// The scheduler's gRPC port.
    pub scheduler_port: u16,
    /// The IP its services bind.
    pub bind_host: String,
    /// The host name the scheduler and other executors reach it at [default: `bind_host`].
    pub external_host: Option<String>,
    /// The Arrow Flight port (shuffle and results).
    pub port: u16,
    /// The gRPC port (task management).
    pub grpc_port: u16,
    /// Where shuffle and spill files go.
    pub work_dir: String,
    /// Tasks run at once; 0 means one per CPU core.
    pub vcores: usize,
    /// The memory pool of all its tasks together (MiB).
    pub memory_pool_mb: u64,
}

/// What an executor did, reported when it stops: the records its cleaning UDFs cleaned and
/// found unusable, per type (pins, geos, users).
#[derive(Debug, Clone, Copy)]
pub struct ExecutorReport {
    /// Records cleaned.
    pub cleaned: [u64; 3],
    /// Of those, unusable.
    pub dead_letters: [u64; 3],
}

/// Runs a Ballista executor with pinpipe's UDFs and the lake's store until SIGTERM or Ctrl-C
/// (Ballista's executor waits for both and deregisters from the scheduler).
pub async fn run_executor(
    lake: Lake,
    config: &BatchConfig,
    options: &ExecutorOptions,
) -> Result<ExecutorReport, BatchError> {
    std::fs::create_dir_all(&options.work_dir).map_err(|e| {
        BatchError::Engine(format!(
            "cannot create the executor's work dir {}: {e}",
            options.work_dir
        ))
    })?;
    let (registry, runtime_producer, counts) =
        executor_parts(lake, config, options.work_dir.clone())?;
    let producer_config = config.clone();
    let process = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: Some(
            options
                .external_host
                .clone()
                .unwrap_or_else(|| options.bind_host.clone()),
        ),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: if options.vcores == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            options.vcores
        },
        work_dir: Some(options.work_dir.clone()),
        memory_pool_size: Some(options.memory_pool_mb.max(64) * 1024 * 1024),
        print_thread_info: false,
        override_function_registry: Some(registry),
        override_runtime_producer: Some(runtime_producer),
        override_config_producer: Some(Arc::new(move || session_config(&producer_config))),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(process)).await?;
    Ok(ExecutorReport {
        cleaned: counts.cleaned(),
        dead_letters: counts.get(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_parse_and_print_back() {
        assert_eq!(Engine::parse("local").unwrap(), Engine::Local);
        assert_eq!(Engine::parse("").unwrap(), Engine::Local);
        let engine = Engine::parse("ballista://10.0.0.5:50050").unwrap();
        assert_eq!(
            engine,
            Engine::Ballista {
                host: "10.0.0.5".into(),
                port: 50050
            }
        );
        assert_eq!(engine.url(), "ballista://10.0.0.5:50050");
        for bad in [
            "ballista://host",
            "ballista://:50050",
            "ballista://h:0",
            "ballista://h:99999",
            "df://h:50050",
            "spark",
        ] {
            let error = Engine::parse(bad).unwrap_err().to_string();
            assert!(error.contains("ballista://HOST:PORT"), "{bad}: {error}");
        }
    }
}
