//! Compiles `proto/renkei/v1/*.proto` with protox (pure Rust: no system `protoc` needed) and
//! writes the encoded file descriptor set used by gRPC reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos: Vec<std::path::PathBuf> = std::fs::read_dir("proto/renkei/v1")?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    let mut protos: Vec<_> = protos
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    protos.sort();
    let fds = protox::compile(&protos, ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("renkei_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::StrictProstCodec")
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=proto/renkei/v1");
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    Ok(())
}
