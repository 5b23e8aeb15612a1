//! The wgpu device refuses, at once and with a message naming the package
//! to install, a machine where wgpu finds no Vulkan driver (it would fall
//! back to OpenGL, where the zoo's programs were seen to run for minutes
//! without finishing). The machine without a driver is made by pointing
//! the Vulkan loader at a driver list that does not exist, in a child
//! process (the check runs once per process).

use std::process::Command;

const CHILD: &str = "ZOO_WGPU_ADAPTER_CHILD";

#[test]
fn without_a_vulkan_driver_the_wgpu_device_is_refused_naming_the_package() {
    if std::env::var_os(CHILD).is_some() {
        let start = std::time::Instant::now();
        let e = zoo_device::from_name("wgpu").expect_err("no Vulkan adapter");
        let msg = e.to_string();
        assert!(
            msg.contains("mesa-vulkan-drivers")
                && msg.contains("no Vulkan, Metal or DirectX 12 adapter"),
            "{msg}"
        );
        assert!(matches!(e, zoo_device::DeviceError::NoAdapter { .. }));
        // Refused at once, not after minutes on OpenGL.
        assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
        return;
    }
    let missing = std::env::temp_dir().join("zoo-no-such-vulkan-driver.json");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "without_a_vulkan_driver_the_wgpu_device_is_refused_naming_the_package",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("VK_ICD_FILENAMES", &missing)
        .env("VK_DRIVER_FILES", &missing)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}
