//! The one way to build a rhai engine for company scripts: a narrow set of
//! packages (no `sleep`, no printing, no modules, no `eval`), every size
//! limit set, and through `on_progress` a budget per call (time, bytes
//! held) and per request (operations and bytes over all its calls, and the
//! request's own end: a script stops when its request is answered, times
//! out or is cancelled).

use std::{
    cell::RefCell,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};

use rhai::{
    Dynamic, Engine,
    packages::{
        ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
        BasicStringPackage, LogicPackage, MoreStringPackage, Package,
    },
};

/// Limits of script work: per call, and per request over all its calls
/// (the `[scripts]` section of the configuration).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptLimits {
    /// Operations per call.
    pub max_operations: u64,
    /// Wall-clock budget per call, in milliseconds.
    pub max_millis: u64,
    /// Bytes a call may hold at once (what it allocated and did not free).
    pub max_call_bytes: u64,
    /// Operations of all the calls one request makes.
    pub max_request_operations: u64,
    /// Bytes all the calls of one request may allocate, freed or not.
    pub max_request_bytes: u64,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            max_operations: 500_000,
            max_millis: 100,
            max_call_bytes: 16 << 20,
            max_request_operations: 10_000_000,
            max_request_bytes: 512 << 20,
        }
    }
}

/// A request's allowance of script work, shared by every script call it
/// makes: its deadline, operations and bytes over all calls, and whether the
/// request is still there at all. Dropping the [`BudgetGuard`] the request
/// holds ends it, and a script still running for it stops at its next
/// operation — when the request is answered, timed out or cancelled.
#[derive(Debug)]
pub struct ScriptBudget {
    deadline: Option<Instant>,
    ended: AtomicBool,
    operations: AtomicU64,
    bytes: AtomicU64,
    max_operations: u64,
    max_bytes: u64,
}

impl ScriptBudget {
    /// The budget of a request that must be answered by `deadline`.
    pub fn for_request(limits: &ScriptLimits, deadline: Option<Instant>) -> Arc<Self> {
        Arc::new(Self {
            deadline,
            ended: AtomicBool::new(false),
            operations: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            max_operations: limits.max_request_operations,
            max_bytes: limits.max_request_bytes,
        })
    }

    /// Background work (a re-score, the demo seed, a reload): only the
    /// per-call limits apply.
    pub fn unbounded() -> Arc<Self> {
        Arc::new(Self {
            deadline: None,
            ended: AtomicBool::new(false),
            operations: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            max_operations: u64::MAX,
            max_bytes: u64::MAX,
        })
    }

    /// A guard that ends this budget when dropped (held by the request).
    pub fn guard(self: &Arc<Self>) -> BudgetGuard {
        BudgetGuard(self.clone())
    }

    /// Operations and bytes used so far by the request's calls.
    pub fn used(&self) -> (u64, u64) {
        (
            self.operations.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Ends a [`ScriptBudget`] when dropped.
pub struct BudgetGuard(Arc<ScriptBudget>);

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Release);
    }
}

/// Why a call was stopped by its budget, shown in the PLUGIN_ERROR.
const OUT_OF_TIME: &str = "ran out of time";
const REQUEST_ENDED: &str = "was stopped because its request ended";
const OUT_OF_OPERATIONS: &str = "used up its request's budget of script operations";
const TOO_MUCH_DATA: &str = "built too much data";
const OUT_OF_BYTES: &str = "used up its request's budget of script memory";

/// The call running on this thread (scripts run on blocking threads, one call at a time).
struct Call {
    deadline: Instant,
    budget: Arc<ScriptBudget>,
    memory_at_start: alloc_meter::Reading,
    max_call_bytes: u64,
    /// The call's operation count as last reported to `on_progress`.
    operations: u64,
}

thread_local! {
    static CALL: RefCell<Option<Call>> = const { RefCell::new(None) };
    /// The budget [`run`] put in place for the closure it runs.
    static BUDGET: RefCell<Option<Arc<ScriptBudget>>> = const { RefCell::new(None) };
}

/// Runs `f` (a script call) with a deadline `millis` from now (or the
/// request's, if sooner) and the budget of the current request, then
/// charges the call's operations and bytes to that budget.
pub fn with_deadline<T>(limits: &ScriptLimits, f: impl FnOnce() -> T) -> T {
    let budget = BUDGET
        .with(|b| b.borrow().clone())
        .unwrap_or_else(ScriptBudget::unbounded);
    let own = Instant::now() + std::time::Duration::from_millis(limits.max_millis);
    let deadline = budget.deadline.map_or(own, |d| d.min(own));
    let start = alloc_meter::Reading::now();
    CALL.with(|c| {
        *c.borrow_mut() = Some(Call {
            deadline,
            budget: budget.clone(),
            memory_at_start: start,
            max_call_bytes: limits.max_call_bytes,
            operations: 0,
        })
    });
    let out = f();
    let operations = CALL.with(|c| c.borrow_mut().take().map_or(0, |c| c.operations));
    budget.operations.fetch_add(operations, Ordering::Relaxed);
    budget
        .bytes
        .fetch_add(alloc_meter::Reading::now().allocated_since(&start), Ordering::Relaxed);
    out
}

/// Why the running call must stop now, if it must.
fn verdict(operations: u64) -> Option<&'static str> {
    CALL.with(|c| {
        let mut call = c.borrow_mut();
        let call = call.as_mut()?;
        call.operations = operations;
        let budget = &call.budget;
        if budget.ended.load(Ordering::Acquire) {
            return Some(REQUEST_ENDED);
        }
        if budget.operations.load(Ordering::Relaxed) + operations > budget.max_operations {
            return Some(OUT_OF_OPERATIONS);
        }
        // The clock and the allocator's counters every 64 operations: cheap
        // enough, and no operation allocates more than a string's limit.
        if !operations.is_multiple_of(64) {
            return None;
        }
        if Instant::now() > call.deadline {
            return Some(OUT_OF_TIME);
        }
        let now = alloc_meter::Reading::now();
        if now.held_since(&call.memory_at_start) > call.max_call_bytes {
            return Some(TOO_MUCH_DATA);
        }
        if budget.bytes.load(Ordering::Relaxed) + now.allocated_since(&call.memory_at_start) > budget.max_bytes {
            return Some(OUT_OF_BYTES);
        }
        None
    })
}

/// The reason a call was stopped, from the token `on_progress` gave.
pub fn stop_reason(token: &Dynamic) -> String {
    token.clone().into_string().unwrap_or_else(|_| OUT_OF_TIME.to_owned())
}

/// Runs `f` on a blocking thread, off the async workers, with `budget` as
/// the budget of every script call it makes.
pub async fn run<T: Send + 'static>(
    budget: &Arc<ScriptBudget>,
    f: impl FnOnce() -> crate::error::AppResult<T> + Send + 'static,
) -> crate::error::AppResult<T> {
    let budget = budget.clone();
    tokio::task::spawn_blocking(move || {
        BUDGET.with(|b| *b.borrow_mut() = Some(budget));
        let out = f();
        BUDGET.with(|b| *b.borrow_mut() = None);
        out
    })
    .await
    .map_err(|e| crate::error::AppError::Internal(format!("script task failed: {e}")))?
}

/// Builds a hardened engine.
pub fn hardened(limits: ScriptLimits) -> Engine {
    let mut engine = Engine::new_raw();
    // Everything but LanguageCorePackage, which brings `sleep`, `print` and friends.
    engine.register_global_module(ArithmeticPackage::new().as_shared_module());
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BasicIteratorPackage::new().as_shared_module());
    engine.register_global_module(BasicStringPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine.register_global_module(BasicMathPackage::new().as_shared_module());
    engine.register_global_module(BasicFnPackage::new().as_shared_module());
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(32)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(16 * 1024)
        .set_max_array_size(10_000)
        .set_max_map_size(10_000)
        .set_max_variables(1_000)
        .set_max_functions(500)
        .set_max_strings_interned(1_000);
    engine.disable_symbol("eval");
    engine.on_progress(|operations| verdict(operations).map(Dynamic::from));
    engine
}
