//! Each company's sales process as rhai scripts (see `plugins/README.md`).
//!
//! A plugin set is a folder of `plugins/`: `process.rhai` (stages, exit
//! check, quality indicators, contact levels, reactions), `scoring.rhai`
//! (energy points of an activity) and `kpi.rhai` (KPI definitions and their
//! formulas). A company names its folder, or publishes its own set through
//! the API (stored in the database, versioned: `service::process`). A set
//! inherits function by function: whatever it does not define comes from
//! `default`.
//! Sets are compiled once and kept as `Arc`s; the process and KPI definitions
//! are read once at load time, so requests run a script only when a write
//! needs one (an exit check, a score) or once per aggregated KPI row.

pub mod engine;
pub mod watch;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use rhai::{AST, Array, Dynamic, Engine, EvalAltResult, Map};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

pub use engine::ScriptLimits;

/// The files of a set, in load order.
pub const FILES: [&str; 3] = ["process.rhai", "scoring.rhai", "kpi.rhai"];

/// The `default` set, built into the binary for a server started without the `plugins/` folder.
const BUILTIN_DEFAULT: [&str; 3] = [
    include_str!("../../plugins/default/process.rhai"),
    include_str!("../../plugins/default/scoring.rhai"),
    include_str!("../../plugins/default/kpi.rhai"),
];

/// At most this many KPIs per company: each runs once per aggregated row.
pub const MAX_KPIS: usize = 50;

/// Whether a stage is before the order, won or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, async_graphql::Enum)]
pub enum StageOutcome {
    /// Still being worked on.
    Open,
    /// Ordered (after-sales stages are won too).
    Won,
    /// Lost.
    Lost,
}

/// One stage of a company's process.
#[derive(Debug, Clone, Serialize, async_graphql::SimpleObject)]
pub struct Stage {
    /// Key stored on deals.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Win probability, 0–100.
    pub probability: i32,
    /// Open, won or lost.
    pub outcome: StageOutcome,
    /// A stage after the order (support, onboarding…).
    pub after_sales: bool,
    /// What must hold to leave the stage, in words (shown to users).
    pub exit_criteria: Option<String>,
}

/// A key with a display name (quality indicator, contact level, reaction).
#[derive(Debug, Clone, Serialize, async_graphql::SimpleObject)]
#[graphql(name = "NamedKey")]
pub struct Named {
    /// Key stored on records.
    pub key: String,
    /// Display name.
    pub name: String,
}

/// A KPI the company defines: a formula over the base metrics of one row.
#[derive(Debug, Clone, Serialize, async_graphql::SimpleObject)]
#[graphql(name = "KpiDefinition")]
pub struct Kpi {
    /// Stable key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Display unit: `%`, `money` (minor units of the company currency),
    /// `count`, `per_day`, `points`… (free text, for the frontend).
    pub unit: Option<String>,
    /// What it measures, in words.
    pub description: Option<String>,
    /// The script function computing it.
    #[graphql(skip)]
    pub formula: String,
}

/// A company's process, read from its script once at load time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Process {
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// Deal quality indicators (at most five).
    pub quality_indicators: Vec<Named>,
    /// Contact levels, most junior first.
    pub contact_levels: Vec<Named>,
    /// Customer reactions recorded on activities.
    pub reactions: Vec<Named>,
    /// KPIs, in display order.
    pub kpis: Vec<Kpi>,
}

impl Process {
    /// The stage `key`, if the process has it.
    pub fn stage(&self, key: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.key == key)
    }

    /// The stage's name, or the key itself when the process no longer has it.
    pub fn stage_name(&self, key: &str) -> String {
        self.stage(key).map_or_else(|| key.to_owned(), |s| s.name.clone())
    }

    /// The first stage with this outcome (before any after-sales stage).
    pub fn first_with(&self, outcome: StageOutcome) -> Option<&Stage> {
        self.stages.iter().find(|s| s.outcome == outcome && !s.after_sales)
    }
}

/// Where one function of a set comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionSource {
    /// The file it belongs to (`process.rhai`, `scoring.rhai`, `kpi.rhai`).
    pub file: &'static str,
    /// The function's name.
    pub name: String,
    /// How many parameters it takes.
    pub params: usize,
    /// Inherited from `default`: the set does not define it.
    pub inherited: bool,
}

/// The scripts of a set before compiling: its own files, and the sources of
/// `default` it inherits from function by function (none for `default` itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// The set's own `process.rhai`, `scoring.rhai` and `kpi.rhai`, each when it has one.
    pub own: [Option<String>; 3],
    /// What `default` defines, for the functions the set does not.
    pub base: Option<[String; 3]>,
}

impl Sources {
    /// A set's own files on the `default` built into the binary: a stored
    /// process, which must not depend on the files of one replica.
    pub fn on_builtin(own: [Option<String>; 3]) -> Self {
        Self {
            own,
            base: Some(BUILTIN_DEFAULT.map(str::to_owned)),
        }
    }

    /// Changes when any script the set runs changes.
    fn version(&self) -> String {
        let mut parts = Vec::with_capacity(6);
        for i in 0..FILES.len() {
            parts.push(self.base.as_ref().map_or("", |b| b[i].as_str()));
            // A marker no script can be: an empty own file is not no file.
            parts.push(self.own[i].as_deref().unwrap_or("\u{1}"));
        }
        hash(&parts)
    }

    /// Changes when what scoring runs changes (the same hash as before
    /// inheritance went per function, for sets without their own scoring).
    fn scoring_hash(&self) -> String {
        let parts: Vec<&str> = self
            .base
            .iter()
            .map(|b| b[1].as_str())
            .chain(self.own[1].as_deref())
            .collect();
        hash(&parts)
    }
}

/// Why a set does not load: the file, and where in it when rhai knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadError {
    /// The set (`default` when the fault is in what it inherits).
    pub set: String,
    /// The file.
    pub file: &'static str,
    /// Line, from 1.
    pub line: Option<usize>,
    /// Column, from 1.
    pub column: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl LoadError {
    fn at(set: &str, file: &'static str, message: impl std::fmt::Display, pos: rhai::Position) -> Self {
        Self {
            set: set.to_owned(),
            file,
            line: pos.line(),
            column: pos.position(),
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin set `{}`, {}: {}", self.set, self.file, self.message)?;
        if let Some(line) = self.line {
            write!(f, " (line {line}, position {})", self.column.unwrap_or(0))?;
        }
        Ok(())
    }
}

impl From<LoadError> for AppError {
    fn from(e: LoadError) -> Self {
        AppError::Limited("PLUGIN_ERROR", e.to_string())
    }
}

/// A compiled plugin set.
pub struct PluginSet {
    /// Folder name, or `stored vN` for a company's stored version N.
    pub name: String,
    /// Hash of every file of the set: changes when any script changes.
    pub version: String,
    /// Hash of the scoring script: stored with every energy score.
    pub scoring_version: String,
    /// The process the set defines.
    pub process: Process,
    /// Every function the set runs, with where it comes from.
    pub functions: Vec<FunctionSource>,
    /// The scripts it was compiled from.
    pub sources: Sources,
    /// The company's stored version it is, when it is one.
    pub stored_version: Option<i32>,
    engine: Arc<Engine>,
    limits: ScriptLimits,
    process_ast: AST,
    scoring_ast: AST,
    kpi_ast: AST,
    has_exit_check: bool,
}

impl std::fmt::Debug for PluginSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSet")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

/// A script that failed to load, where rhai cannot say the line.
fn load_error(set: &str, file: &'static str, err: impl std::fmt::Display) -> LoadError {
    LoadError::at(set, file, err, rhai::Position::NONE)
}

/// What stopped a script, in words.
fn what_failed(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorTooManyOperations(_) => "used too many operations and was stopped".to_owned(),
        EvalAltResult::ErrorTerminated(token, _) => format!("{} and was stopped", engine::stop_reason(token)),
        EvalAltResult::ErrorStackOverflow(_) => "recursed too deeply and was stopped".to_owned(),
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("built a {what} beyond the limit and was stopped"),
        other => other.to_string(),
    }
}

/// A script that failed at run time: its message and position, never a crash.
fn run_error(set: &str, file: &str, function: &str, err: &EvalAltResult) -> AppError {
    let what = what_failed(err);
    let pos = err.position();
    let at = if pos.is_none() {
        String::new()
    } else {
        format!(
            " (line {}, column {})",
            pos.line().unwrap_or(0),
            pos.position().unwrap_or(0)
        )
    };
    AppError::Limited(
        "PLUGIN_ERROR",
        format!("the script {set}/{file} `{function}` {what}{at}"),
    )
}

fn hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn get_str(map: &Map, key: &str) -> Option<String> {
    map.get(key).and_then(|v| v.clone().into_string().ok())
}

fn named_list(value: Dynamic, set: &str, what: &str) -> Result<Vec<Named>, LoadError> {
    let items = value
        .try_cast::<Array>()
        .ok_or_else(|| load_error(set, "process.rhai", format!("`{what}()` must return an array")))?;
    items
        .into_iter()
        .map(|item| {
            let map = item
                .try_cast::<Map>()
                .ok_or_else(|| load_error(set, "process.rhai", format!("`{what}()` items are maps")))?;
            let key = get_str(&map, "key")
                .ok_or_else(|| load_error(set, "process.rhai", format!("a `{what}()` item has no `key`")))?;
            crate::service::validate::key(what, &key).map_err(|e| load_error(set, "process.rhai", e.message()))?;
            let name = get_str(&map, "name").unwrap_or_else(|| key.clone());
            Ok(Named { key, name })
        })
        .collect()
}

impl PluginSet {
    /// Compiles a set from its sources and reads its process and KPI
    /// definitions: each file's functions on top of what `default` defines.
    pub fn compile(name: &str, sources: Sources, engine: Arc<Engine>, limits: ScriptLimits) -> Result<Self, LoadError> {
        let mut asts = Vec::with_capacity(FILES.len());
        let mut functions = Vec::new();
        for (i, &file) in FILES.iter().enumerate() {
            let parse = |set: &str, src: &str| engine.compile(src).map_err(|e| LoadError::at(set, file, &e.0, e.1));
            let base = sources.base.as_ref().map(|b| parse("default", &b[i])).transpose()?;
            let own = sources.own[i].as_deref().map(|src| parse(name, src)).transpose()?;
            let signatures = |ast: &AST| -> Vec<(String, usize)> {
                ast.iter_functions()
                    .map(|f| (f.name.to_owned(), f.params.len()))
                    .collect()
            };
            let own_functions = own.as_ref().map(signatures).unwrap_or_default();
            let inherited = base.as_ref().map(signatures).unwrap_or_default();
            for (f, params, inherited) in own_functions.iter().map(|(f, p)| (f, p, false)).chain(
                inherited
                    .iter()
                    .filter(|s| !own_functions.contains(s))
                    .map(|(f, p)| (f, p, true)),
            ) {
                functions.push(FunctionSource {
                    file,
                    name: f.clone(),
                    params: *params,
                    inherited,
                });
            }
            // `merge` keeps `base`'s functions unless `own` defines the same name and arity.
            asts.push(match (base, own) {
                (Some(base), Some(own)) => base.merge(&own),
                (Some(ast), None) | (None, Some(ast)) => ast,
                (None, None) => AST::empty(),
            });
        }
        let [process_ast, scoring_ast, kpi_ast]: [AST; 3] = asts
            .try_into()
            .map_err(|_| load_error(name, FILES[0], "a set has three files"))?;
        let has =
            |ast: &AST, f: &str, arity: usize| ast.iter_functions().any(|m| m.name == f && m.params.len() == arity);
        for (ast, file, f, arity) in [
            (&process_ast, FILES[0], "stages", 0),
            (&scoring_ast, FILES[1], "activity_points", 1),
            (&kpi_ast, FILES[2], "kpis", 0),
        ] {
            if !has(ast, f, arity) {
                return Err(load_error(name, file, format!("the function `{f}` is missing")));
            }
        }
        let mut set = Self {
            name: name.to_owned(),
            version: sources.version(),
            scoring_version: format!("{name}:{}", sources.scoring_hash()),
            process: Process::default(),
            functions,
            sources,
            stored_version: None,
            has_exit_check: has(&process_ast, "exit_check", 3),
            engine,
            limits,
            process_ast,
            scoring_ast,
            kpi_ast,
        };
        let call = |f: &str| set.load_call(&set.process_ast, FILES[0], f);
        let stages = call("stages")?
            .try_cast::<Array>()
            .ok_or_else(|| load_error(name, FILES[0], "`stages()` must return an array"))?;
        let mut parsed = Vec::new();
        for item in stages {
            let map = item
                .try_cast::<Map>()
                .ok_or_else(|| load_error(name, FILES[0], "stages are maps"))?;
            let key = get_str(&map, "key").ok_or_else(|| load_error(name, FILES[0], "a stage has no `key`"))?;
            crate::service::validate::key("stage", &key).map_err(|e| load_error(name, FILES[0], e.message()))?;
            let outcome = match get_str(&map, "outcome").as_deref() {
                None | Some("open") => StageOutcome::Open,
                Some("won") => StageOutcome::Won,
                Some("lost") => StageOutcome::Lost,
                Some(other) => {
                    return Err(load_error(
                        name,
                        FILES[0],
                        format!("stage `{key}`: unknown outcome `{other}`"),
                    ));
                }
            };
            let after_sales = map.get("after_sales").and_then(|v| v.as_bool().ok()).unwrap_or(false);
            let probability = map.get("probability").and_then(|v| v.as_int().ok()).unwrap_or(0);
            if !(0..=100).contains(&probability) {
                return Err(load_error(
                    name,
                    FILES[0],
                    format!("stage `{key}`: probability must be 0 to 100"),
                ));
            }
            parsed.push(Stage {
                name: get_str(&map, "name").unwrap_or_else(|| key.clone()),
                key,
                probability: probability as i32,
                outcome: if after_sales { StageOutcome::Won } else { outcome },
                after_sales,
                exit_criteria: get_str(&map, "exit_criteria"),
            });
        }
        if parsed.is_empty() || !parsed.iter().any(|s| s.outcome == StageOutcome::Open) {
            return Err(load_error(name, FILES[0], "the process needs at least one open stage"));
        }
        let optional = |f: &str| -> Result<Vec<Named>, LoadError> {
            if has(&set.process_ast, f, 0) {
                named_list(call(f)?, name, f)
            } else {
                Ok(vec![])
            }
        };
        let quality_indicators = optional("quality_indicators")?;
        if quality_indicators.len() > crate::service::deal::MAX_QUALITY_INDICATORS {
            return Err(load_error(
                name,
                FILES[0],
                "a company has at most five quality indicators",
            ));
        }
        let process = Process {
            stages: parsed,
            quality_indicators,
            contact_levels: optional("contact_levels")?,
            reactions: optional("reactions")?,
            kpis: set.read_kpis()?,
        };
        set.process = process;
        Ok(set)
    }

    /// Reads `kpis()` and checks that every formula names a function of `kpi.rhai`.
    fn read_kpis(&self) -> Result<Vec<Kpi>, LoadError> {
        let (name, file) = (self.name.as_str(), FILES[2]);
        let items = self
            .load_call(&self.kpi_ast, file, "kpis")?
            .try_cast::<Array>()
            .ok_or_else(|| load_error(name, file, "`kpis()` must return an array"))?;
        if items.len() > MAX_KPIS {
            return Err(load_error(name, file, format!("a company has at most {MAX_KPIS} KPIs")));
        }
        let mut kpis: Vec<Kpi> = Vec::with_capacity(items.len());
        for item in items {
            let map = item
                .try_cast::<Map>()
                .ok_or_else(|| load_error(name, file, "KPIs are maps"))?;
            let key = get_str(&map, "key").ok_or_else(|| load_error(name, file, "a KPI has no `key`"))?;
            crate::service::validate::key("KPI", &key).map_err(|e| load_error(name, file, e.message()))?;
            if kpis.iter().any(|k| k.key == key) {
                return Err(load_error(name, file, format!("the KPI `{key}` is defined twice")));
            }
            let formula = get_str(&map, "formula").unwrap_or_else(|| key.clone());
            if !self
                .kpi_ast
                .iter_functions()
                .any(|f| f.name == formula && f.params.len() == 1)
            {
                return Err(load_error(
                    name,
                    file,
                    format!("KPI `{key}`: its formula `{formula}(m)` is not a function of kpi.rhai"),
                ));
            }
            kpis.push(Kpi {
                name: get_str(&map, "name").unwrap_or_else(|| key.clone()),
                key,
                unit: get_str(&map, "unit"),
                description: get_str(&map, "description"),
                formula,
            });
        }
        Ok(kpis)
    }

    /// Evaluates one KPI over the metrics of one aggregated row: `None` when
    /// the formula returns `()` (no value, e.g. no target set).
    pub fn kpi(&self, kpi: &Kpi, metrics: Map) -> AppResult<Option<f64>> {
        let value = self.call(&self.kpi_ast, FILES[2], &kpi.formula, (metrics,))?;
        if value.is_unit() {
            return Ok(None);
        }
        let n = value
            .as_float()
            .or_else(|_| value.as_int().map(|i| i as f64))
            .map_err(|kind| {
                AppError::Limited(
                    "PLUGIN_ERROR",
                    format!("the KPI `{}` returned a {kind}, not a number", kpi.key),
                )
            })?;
        if !n.is_finite() {
            return Err(AppError::Limited(
                "PLUGIN_ERROR",
                format!("the KPI `{}` returned {n}, not a finite number", kpi.key),
            ));
        }
        Ok(Some(n))
    }

    /// A call while loading: its failure is a [`LoadError`] with where.
    fn load_call(&self, ast: &AST, file: &'static str, function: &str) -> Result<Dynamic, LoadError> {
        let mut scope = rhai::Scope::new();
        engine::with_deadline(&self.limits, || {
            self.engine.call_fn::<Dynamic>(&mut scope, ast, function, ())
        })
        .map_err(|e| {
            LoadError::at(
                &self.name,
                file,
                format!("`{function}` {}", what_failed(&e)),
                e.position(),
            )
        })
    }

    fn call(&self, ast: &AST, file: &str, function: &str, args: impl rhai::FuncArgs) -> AppResult<Dynamic> {
        let mut scope = rhai::Scope::new();
        engine::with_deadline(&self.limits, || {
            self.engine.call_fn::<Dynamic>(&mut scope, ast, function, args)
        })
        .map_err(|e| run_error(&self.name, file, function, &e))
    }

    /// Asks the exit check whether `deal` may move from `from` to `to`:
    /// `None` allows, `Some(message)` refuses.
    pub fn exit_check(&self, deal: Map, from: &str, to: &str) -> AppResult<Option<String>> {
        if !self.has_exit_check {
            return Ok(None);
        }
        let verdict = self.call(
            &self.process_ast,
            FILES[0],
            "exit_check",
            (deal, from.to_owned(), to.to_owned()),
        )?;
        if verdict.is_unit() {
            return Ok(None);
        }
        match verdict.into_string() {
            Ok(message) => Ok(Some(message)),
            Err(kind) => Err(AppError::Limited(
                "PLUGIN_ERROR",
                format!(
                    "the company's exit_check returned a {kind}; it must return () to allow or a message to refuse"
                ),
            )),
        }
    }

    /// Energy points of an activity (see `plugins/README.md` for the map).
    pub fn activity_points(&self, activity: Map) -> AppResult<i32> {
        let points = self.call(&self.scoring_ast, FILES[1], "activity_points", (activity,))?;
        let n = points
            .as_int()
            .or_else(|_| points.as_float().map(|f| f.round() as i64))
            .map_err(|kind| {
                AppError::Limited(
                    "PLUGIN_ERROR",
                    format!("activity_points returned a {kind}, not a number"),
                )
            })?;
        Ok(n.clamp(-1_000_000, 1_000_000) as i32)
    }
}

/// The map `activity_points(a)` receives (see `plugins/README.md`).
pub fn activity_input(
    kind: &str,
    attendees: i32,
    duration_minutes: Option<i32>,
    reactions: &[String],
    contacts: &[(String, Option<String>)],
) -> Map {
    let mut a = Map::new();
    a.insert("kind".into(), kind.into());
    a.insert("attendees".into(), i64::from(attendees).into());
    a.insert(
        "duration_minutes".into(),
        duration_minutes
            .map(|d| Dynamic::from(i64::from(d)))
            .unwrap_or(Dynamic::UNIT),
    );
    a.insert(
        "reactions".into(),
        reactions
            .iter()
            .map(|r| Dynamic::from(r.clone()))
            .collect::<Array>()
            .into(),
    );
    let contacts: Array = contacts
        .iter()
        .map(|(level, department)| {
            let mut c = Map::new();
            c.insert("level".into(), level.clone().into());
            c.insert(
                "department".into(),
                department.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
            );
            Dynamic::from(c)
        })
        .collect();
    a.insert("contacts".into(), contacts.into());
    a
}

pub use engine::{BudgetGuard, ScriptBudget, run};

/// Compiles a company's stored versions with the server's engine and limits.
#[derive(Clone)]
pub struct Compiler {
    engine: Arc<Engine>,
    limits: ScriptLimits,
}

impl Compiler {
    /// Compiles a company's stored version `version` (its own files on the
    /// built-in `default`), without making it current.
    pub fn stored(&self, version: i32, own: [Option<String>; 3]) -> Result<PluginSet, LoadError> {
        let sources = Sources::on_builtin(own);
        let scoring = format!("stored:{}", sources.scoring_hash());
        let mut set = PluginSet::compile(&format!("stored v{version}"), sources, self.engine.clone(), self.limits)?;
        // Two versions with the same scoring keep the stored scores.
        set.scoring_version = scoring;
        set.stored_version = Some(version);
        Ok(set)
    }
}

/// Every plugin set of the server, compiled.
pub struct Plugins {
    dir: PathBuf,
    engine: Arc<Engine>,
    limits: ScriptLimits,
    sets: RwLock<HashMap<String, Arc<PluginSet>>>,
    /// The `default` set as loaded at start-up, for a company whose set is gone.
    fallback: Arc<PluginSet>,
    /// Sets whose latest reload failed: the version of the refused sources and why.
    failures: RwLock<HashMap<String, (String, String)>>,
    /// Each company's stored process as last compiled here (its active
    /// version; an older one is replaced when a newer is asked for).
    stored: RwLock<HashMap<uuid::Uuid, Arc<PluginSet>>>,
}

/// What a reload changed.
pub struct Reloaded {
    /// The reloaded set, now current.
    pub set: Arc<PluginSet>,
    /// Sets whose scoring script changed (their stored scores need a re-score).
    pub scoring_changed: Vec<String>,
}

impl Plugins {
    /// Loads every set under `dir` (and the built-in `default` when the folder lacks one).
    /// A broken set is an error naming its file, line and column.
    pub fn load(dir: &Path, limits: ScriptLimits) -> AppResult<Self> {
        let engine = Arc::new(engine::hardened(limits));
        let default = Arc::new(compile_from_disk(dir, "default", engine.clone(), limits)?);
        let plugins = Self {
            dir: dir.to_owned(),
            engine,
            limits,
            sets: RwLock::new(HashMap::from([("default".to_owned(), default.clone())])),
            fallback: default,
            failures: RwLock::default(),
            stored: RwLock::default(),
        };
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut names: Vec<String> = entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n != "default")
                .collect();
            names.sort();
            for name in names {
                let set = Arc::new(plugins.compile_set(&name)?);
                plugins
                    .sets
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(name, set);
            }
        }
        Ok(plugins)
    }

    /// Compiles the set `name` from disk: its own files, the rest from `default`.
    pub fn compile_set(&self, name: &str) -> AppResult<PluginSet> {
        compile_from_disk(&self.dir, name, self.engine.clone(), self.limits)
    }

    /// What compiles a company's stored versions, to take to a blocking thread.
    pub fn compiler(&self) -> Compiler {
        Compiler {
            engine: self.engine.clone(),
            limits: self.limits,
        }
    }

    /// The company's stored version `version`, if compiled here already.
    pub fn stored(&self, company: uuid::Uuid, version: i32) -> Option<Arc<PluginSet>> {
        let stored = self.stored.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        stored
            .get(&company)
            .filter(|s| s.stored_version == Some(version))
            .cloned()
    }

    /// Keeps `set` as the company's stored process, unless a newer version is kept already.
    pub fn keep_stored(&self, company: uuid::Uuid, set: Arc<PluginSet>) {
        let mut stored = self.stored.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let newer = stored
            .get(&company)
            .is_some_and(|kept| kept.stored_version > set.stored_version);
        if !newer {
            stored.insert(company, set);
        }
    }

    /// The set a company uses: its own, or `default` when it names none (or one that is missing).
    pub fn for_company(&self, plugin_set: Option<&str>) -> Arc<PluginSet> {
        let sets = self.sets.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        plugin_set
            .and_then(|name| sets.get(name))
            .or_else(|| sets.get("default"))
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }

    /// Recompiles the set `name` from disk and makes it current. When the
    /// change is broken the error names file, line and column, the last
    /// good version stays active, and [`Plugins::failure`] reports it until a
    /// reload succeeds. Reloading `default` recompiles every set, since the
    /// others inherit its files.
    pub fn reload(&self, name: &str) -> AppResult<Reloaded> {
        let mut names = if name == "default" {
            self.names()
        } else {
            vec![name.to_owned()]
        };
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        let compiled = names
            .iter()
            .map(|n| self.compile_set(n).map(Arc::new).map_err(|e| (n, e)))
            .collect::<Result<Vec<_>, _>>();
        let mut failures = self.failures.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let compiled = match compiled {
            Ok(compiled) => compiled,
            Err((failed, e)) => {
                let version = read_sources(&self.dir, failed).version();
                failures.insert(failed.clone(), (version, e.message()));
                return Err(e);
            }
        };
        let mut sets = self.sets.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut scoring_changed = Vec::new();
        for set in &compiled {
            failures.remove(&set.name);
            let before = sets.insert(set.name.clone(), set.clone());
            if before.is_none_or(|b| b.scoring_version != set.scoring_version) {
                scoring_changed.push(set.name.clone());
            }
        }
        let set = sets
            .get(name)
            .cloned()
            .ok_or_else(|| AppError::Internal("reloaded set vanished".into()))?;
        Ok(Reloaded { set, scoring_changed })
    }

    /// Compiles the set `name` as it would run after a reload, without making
    /// it current: its files on disk, with `scoring` (when given) in place of
    /// its scoring script. For dry runs.
    pub fn candidate(&self, name: &str, scoring: Option<&str>) -> AppResult<PluginSet> {
        let mut sources = read_sources(&self.dir, name);
        if let Some(scoring) = scoring {
            sources.own[1] = Some(scoring.to_owned());
        }
        Ok(PluginSet::compile(name, sources, self.engine.clone(), self.limits)?)
    }

    /// The limits every script call runs under.
    pub fn limits(&self) -> ScriptLimits {
        self.limits
    }

    /// Why the latest reload of `name` failed, while its last good version runs.
    pub fn failure(&self, name: &str) -> Option<String> {
        let failures = self.failures.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.get(name).map(|(_, message)| message.clone())
    }

    /// Forgets the refusal of every set whose files on disk are again what
    /// runs (a broken change reverted): its `loadError` clears without a reload.
    pub fn forget_reverted(&self) {
        let sets = self.sets.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut failures = self.failures.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.retain(|name, _| {
            let on_disk = read_sources(&self.dir, name).version();
            sets.get(name).is_none_or(|running| running.version != on_disk)
        });
    }

    /// The sets whose files on disk differ from what runs (a new folder
    /// counts), leaving out sources already refused once. `default` comes
    /// first: reloading it recompiles the others.
    pub fn changed_on_disk(&self) -> Vec<String> {
        let mut names = self.names();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            names.extend(
                entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| valid_set_name(n)),
            );
        }
        names.sort_by_key(|n| (n != "default", n.clone()));
        names.dedup();
        let sets = self.sets.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let failures = self.failures.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        names
            .into_iter()
            .filter(|name| {
                let on_disk = read_sources(&self.dir, name).version();
                let running = sets.get(name).map(|s| s.version.as_str());
                let refused = failures.get(name).map(|f| f.0.as_str());
                running != Some(on_disk.as_str()) && refused != Some(on_disk.as_str())
            })
            .collect()
    }

    /// Names of the loaded sets.
    pub fn names(&self) -> Vec<String> {
        let sets = self.sets.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names: Vec<String> = sets.keys().cloned().collect();
        names.sort();
        names
    }
}

fn valid_set_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The sources of the set `name` under `dir`: its own files on those of
/// `default` (or the built-in default for the files the folder lacks).
fn read_sources(dir: &Path, name: &str) -> Sources {
    let read = |set: &str, i: usize| std::fs::read_to_string(dir.join(set).join(FILES[i])).ok();
    let default: [String; 3] =
        std::array::from_fn(|i| read("default", i).unwrap_or_else(|| BUILTIN_DEFAULT[i].to_owned()));
    if name == "default" {
        return Sources {
            own: default.map(Some),
            base: None,
        };
    }
    Sources {
        own: std::array::from_fn(|i| read(name, i)),
        base: Some(default),
    }
}

/// Compiles the set `name` under `dir` (see [`read_sources`]).
fn compile_from_disk(dir: &Path, name: &str, engine: Arc<Engine>, limits: ScriptLimits) -> AppResult<PluginSet> {
    if !valid_set_name(name) {
        return Err(AppError::bad(format!("`{name}` is not a plugin set name")));
    }
    Ok(PluginSet::compile(name, read_sources(dir, name), engine, limits)?)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const PROCESS: &str = r#"fn stages() { [#{ key: "open", name: "Open" }, #{ key: "won", outcome: "won" }] }"#;
    const KPI: &str = "fn kpis() { [] }";

    /// A set of its own three files, inheriting nothing.
    fn own(files: [&str; 3]) -> Sources {
        Sources {
            own: files.map(|f| Some(f.to_owned())),
            base: None,
        }
    }

    fn set(scoring: &str) -> AppResult<PluginSet> {
        let engine = Arc::new(engine::hardened(ScriptLimits::default()));
        Ok(PluginSet::compile(
            "test",
            own([PROCESS, scoring, KPI]),
            engine,
            ScriptLimits::default(),
        )?)
    }

    fn kpi_set(kpi: &str) -> AppResult<PluginSet> {
        let engine = Arc::new(engine::hardened(ScriptLimits::default()));
        let scoring = "fn activity_points(a) { 1 }";
        Ok(PluginSet::compile(
            "test",
            own([PROCESS, scoring, kpi]),
            engine,
            ScriptLimits::default(),
        )?)
    }

    /// What a set does not define comes from `default`, one function at a
    /// time: its own stages with default's exit check, contact levels and
    /// reactions; its own `fn contact_levels() { [] }` opts out.
    #[test]
    fn sets_inherit_function_by_function() {
        let engine = Arc::new(engine::hardened(ScriptLimits::default()));
        let compile = |process: &str| {
            PluginSet::compile(
                "acme",
                Sources::on_builtin([Some(process.to_owned()), None, None]),
                engine.clone(),
                ScriptLimits::default(),
            )
        };
        let set = compile(PROCESS).expect("compiles");
        assert_eq!(set.process.stages.len(), 2, "its own stages");
        assert_eq!(set.process.contact_levels.len(), 3, "default's contact levels");
        assert_eq!(set.process.reactions.len(), 6, "default's reactions");
        assert!(!set.process.kpis.is_empty(), "default's KPIs");
        let origin = |f: &str| {
            set.functions
                .iter()
                .find(|s| s.name == f)
                .map(|s| (s.file, s.inherited))
        };
        assert_eq!(origin("stages"), Some(("process.rhai", false)));
        assert_eq!(origin("exit_check"), Some(("process.rhai", true)));
        assert_eq!(origin("activity_points"), Some(("scoring.rhai", true)));
        let refused = set.exit_check(Map::new(), "open", "won").expect("runs");
        assert!(
            refused.is_some(),
            "default's exit check refuses a won deal without an amount"
        );

        let opted_out = compile(&format!("{PROCESS} fn contact_levels() {{ [] }}")).expect("compiles");
        assert!(opted_out.process.contact_levels.is_empty());
        assert_eq!(opted_out.process.reactions.len(), 6);

        let broken = compile("fn stages() {\n  [ #{ key: \"open\" \n}").expect_err("syntax");
        assert_eq!((broken.set.as_str(), broken.file), ("acme", "process.rhai"));
        assert!(broken.line.is_some() && broken.column.is_some(), "{broken:?}");
    }

    #[test]
    fn kpi_definitions_are_checked_at_load() {
        let missing = kpi_set(r#"fn kpis() { [#{ key: "rate", formula: "nope" }] }"#).expect_err("no formula");
        assert!(missing.message().contains("kpi.rhai") && missing.message().contains("nope"));
        let twice = kpi_set(r#"fn kpis() { [#{ key: "a" }, #{ key: "a" }] } fn a(m) { 1 }"#).expect_err("twice");
        assert!(twice.message().contains("twice"), "{}", twice.message());
        let set = kpi_set(
            r#"fn kpis() { [#{ key: "rate", name: "Rate", unit: "%" }, #{ key: "bad" }] }
               fn rate(m) { if m.planned == 0 { () } else { 100.0 * m.done / m.planned } }
               fn bad(m) { m.done / 0 }"#,
        )
        .expect("loads");
        let [rate, bad] = &set.process.kpis[..] else {
            panic!("two KPIs")
        };
        assert_eq!((rate.name.as_str(), rate.unit.as_deref()), ("Rate", Some("%")));
        let row = |planned: i64, done: i64| {
            Map::from_iter([("planned".into(), planned.into()), ("done".into(), done.into())])
        };
        assert_eq!(set.kpi(rate, row(40, 30)).expect("value"), Some(75.0));
        assert_eq!(set.kpi(rate, row(0, 3)).expect("no value"), None);
        let err = set.kpi(bad, row(1, 1)).expect_err("division by zero");
        assert_eq!(err.code(), "PLUGIN_ERROR");
        assert!(err.message().contains("kpi.rhai"), "{}", err.message());
    }

    fn score(scoring: &str) -> (AppResult<i32>, Duration) {
        let started = Instant::now();
        let out = set(scoring).and_then(|s| s.activity_points(activity_input("visit", 1, None, &[], &[])));
        (out, started.elapsed())
    }

    fn refused(scoring: &str, words: &str) {
        let (out, took) = score(scoring);
        let err = out.expect_err("the script must be stopped");
        assert_eq!(err.code(), "PLUGIN_ERROR");
        assert!(err.message().contains(words), "{}", err.message());
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn runaway_scripts_are_stopped_with_clear_errors() {
        refused("fn activity_points(a) { loop { } }", "stopped");
        refused(
            "fn activity_points(a) { let x = 0; while true { x += 1; } x }",
            "stopped",
        );
        refused("fn f(n) { f(n + 1) } fn activity_points(a) { f(0) }", "stopped");
        refused("fn activity_points(a) { let s = \"x\"; loop { s += s; } }", "stopped");
        refused("fn activity_points(a) { let v = []; loop { v.push(1); } }", "stopped");
        refused("fn activity_points(a) { sleep(10); 1 }", "sleep");
    }

    #[test]
    fn no_files_no_eval() {
        let import = set("import \"/etc/passwd\" as p; fn activity_points(a) { 1 }").expect_err("no modules");
        assert!(import.message().contains("scoring.rhai"), "{}", import.message());
        let eval = set("fn activity_points(a) { eval(\"1\") }").expect_err("no eval");
        assert!(eval.message().contains("scoring.rhai"), "{}", eval.message());
    }

    #[test]
    fn load_errors_name_file_line_and_column() {
        let err = set("fn activity_points(a) {\n  1 +\n}").expect_err("syntax error");
        assert!(
            err.message().contains("scoring.rhai") && err.message().contains("line 3"),
            "{}",
            err.message()
        );
        let missing = set("fn other() { 1 }").expect_err("missing function");
        assert!(missing.message().contains("activity_points"), "{}", missing.message());
    }

    #[test]
    fn shipped_sets_load_and_score() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
        let plugins = Plugins::load(&dir, ScriptLimits::default()).expect("shipped plugins load");
        assert_eq!(plugins.names(), ["b2b8", "default", "sfa7"]);
        for name in ["default", "b2b8", "sfa7"] {
            let set = plugins.for_company(Some(name));
            assert_eq!(set.name, name);
            assert!(set.process.stages.len() >= 6, "{name}");
            assert!(!set.process.quality_indicators.is_empty() && set.process.quality_indicators.len() <= 5);
            assert!(set.process.kpis.len() >= 5, "{name} defines KPIs");
        }
        // b2b8 has no scoring.rhai of its own: it inherits default's weights.
        let visit = || {
            activity_input(
                "visit",
                2,
                Some(60),
                &["met_executive".into()],
                &[("executive".into(), None)],
            )
        };
        let default_points = plugins.for_company(None).activity_points(visit()).expect("score");
        assert_eq!(
            plugins
                .for_company(Some("b2b8"))
                .activity_points(visit())
                .expect("score"),
            default_points
        );
        assert_eq!(default_points, (3 + 3) * 3 + 1);
        assert_ne!(
            plugins
                .for_company(Some("sfa7"))
                .activity_points(visit())
                .expect("score"),
            default_points
        );
        assert!(
            plugins.for_company(Some("missing")).name == "default",
            "an unknown set falls back to default"
        );
    }

    /// Data a script builds is bounded by what it holds, also where rhai's
    /// own size limits are not checked (a map filled by index assignment):
    /// 10,000 strings of 16 KB would be 160 MB.
    #[test]
    fn a_script_building_too_much_data_is_stopped() {
        for body in [
            r#"let s = "x"; s.pad(16000, "x"); let m = #{}; for i in 0..10000 { m[`k${i}`] = s + i; } 0"#,
            r#"let s = "x"; s.pad(16000, "x"); let m = []; for i in 0..10000 { m.push(s + i); } 0"#,
            r#"let s = "x"; s.pad(16000, "x"); let m = []; for i in 0..100 { let b = []; for j in 0..100 { b.push(s + j); } m.push(b); } 0"#,
        ] {
            // Time enough for an unoptimised build to get that far.
            let limits = ScriptLimits {
                max_millis: 20_000,
                max_operations: 5_000_000,
                ..ScriptLimits::default()
            };
            let engine = Arc::new(engine::hardened(limits));
            let scoring = format!("fn activity_points(a) {{ {body} }}");
            let set = PluginSet::compile("test", own([PROCESS, &scoring, KPI]), engine, limits).expect("compiles");
            let err = set.activity_points(Map::new()).expect_err("stopped");
            // Either by the bytes it holds, or where rhai checks, by rhai's own limit.
            let message = err.message();
            assert!(
                message.contains("built too much data") || message.contains("beyond the limit"),
                "{message}"
            );
        }
    }

    /// A request's calls share one budget: the request ended, its
    /// operations or its bytes used up, the next call stops at once.
    #[test]
    fn a_request_budget_spans_its_calls_and_ends_with_the_request() {
        let busy = set("fn activity_points(a) { let x = 0; for i in 0..20000 { x += 1; } x }").expect("compiles");
        let limits = ScriptLimits {
            max_request_operations: 200_000,
            ..ScriptLimits::default()
        };
        let budget = ScriptBudget::for_request(&limits, None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let set = Arc::new(busy);
        let calls = |budget: Arc<ScriptBudget>| {
            let set = set.clone();
            runtime.block_on(run(&budget, move || {
                Ok((0..10)
                    .map(|_| set.activity_points(Map::new()).map_err(|e| e.message()))
                    .collect::<Vec<_>>())
            }))
        };
        let results = calls(budget.clone()).expect("ran");
        assert!(results[0].is_ok(), "{results:?}");
        let last = results.last().expect("ten").clone().expect_err("out of operations");
        assert!(last.contains("budget of script operations"), "{last}");
        assert!(budget.used().0 <= 200_000 + 64, "{:?}", budget.used());

        let budget = ScriptBudget::for_request(&ScriptLimits::default(), None);
        drop(budget.guard());
        let results = calls(budget).expect("ran");
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.contains("its request ended"))),
            "{results:?}"
        );
    }
}
