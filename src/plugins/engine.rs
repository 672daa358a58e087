//! The one way to build a rhai engine for company scripts: a narrow set of
//! packages (no `sleep`, no printing, no modules, no `eval`), every size
//! limit set, and a wall-clock budget per call through `on_progress`.

use std::{cell::Cell, time::Instant};

use rhai::{
    Dynamic, Engine,
    packages::{
        ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
        BasicStringPackage, LogicPackage, MoreStringPackage, Package,
    },
};

/// Limits of one script call.
#[derive(Debug, Clone, Copy)]
pub struct ScriptLimits {
    /// Operations per call.
    pub max_operations: u64,
    /// Wall-clock budget per call, in milliseconds.
    pub max_millis: u64,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            max_operations: 500_000,
            max_millis: 100,
        }
    }
}

thread_local! {
    /// Deadline of the call running on this thread (scripts run on blocking threads, one call at a time).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with a deadline `millis` from now for any script it calls.
pub fn with_deadline<T>(millis: u64, f: impl FnOnce() -> T) -> T {
    let deadline = Instant::now() + std::time::Duration::from_millis(millis);
    DEADLINE.with(|d| d.set(Some(deadline)));
    let out = f();
    DEADLINE.with(|d| d.set(None));
    out
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
    engine.on_progress(|_| {
        let late = DEADLINE
            .with(|d| d.get())
            .is_some_and(|deadline| Instant::now() > deadline);
        late.then(|| Dynamic::from("the script ran out of time"))
    });
    engine
}
