/// `schema.graphql` must be the SDL of the running schema: run
/// `cargo run -- export-schema schema.graphql` after changing the API.
#[test]
fn schema_file_matches_the_running_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).expect("schema.graphql");
    let running = sfa::graphql::sdl();
    assert!(
        committed == running,
        "schema.graphql is stale: run `cargo run -- export-schema schema.graphql`"
    );
}
