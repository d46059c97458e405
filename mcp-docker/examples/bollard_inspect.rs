//! The raw client's side of the inspect bench, alone: `N` inspects of one container
//! through bollard, for instruction counts under callgrind (wall time on a loaded
//! machine is too noisy to compare). `cargo run --release --example bollard_inspect --
//! CONTAINER [N]` with DOCKER_HOST set.

#![allow(clippy::print_stderr)]

use bollard::Docker;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args.next().ok_or("usage: bollard_inspect CONTAINER [N]")?;
    let n: usize = args.next().map_or(Ok(200), |s| s.parse())?;
    let host = std::env::var("DOCKER_HOST")?;
    let docker = Docker::connect_with_unix(host.trim_start_matches("unix://"), 60, bollard::API_DEFAULT_VERSION)?
        .negotiate_version()
        .await?;
    for _ in 0..n {
        std::hint::black_box(docker.inspect_container(&target, None).await?);
    }
    eprintln!("{n} inspects of {target}");
    Ok(())
}
