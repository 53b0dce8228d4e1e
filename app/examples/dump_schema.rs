fn main() {
    println!(
        "{}",
        serde_json::to_string_pretty(&blog::config::schema()).unwrap()
    );
}
