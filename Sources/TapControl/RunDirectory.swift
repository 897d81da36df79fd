import Glibc

/// Where daemons' sockets, pid files and logs live (`DataPathLauncher`'s `<run>/<sr>/<vdi>.*`).
public enum RunDirectory {
    /// The plugin's directory, which sm-cli shares when it runs as root.
    public static let system = "/run/sm-plugin"

    /// `$SM_RUN_DIR`; else `/run/sm-plugin` for root (the plugin's, so sm-cli sees the
    /// daemons XAPI's attaches started); else `$XDG_RUNTIME_DIR/sm-plugin`; else
    /// `/tmp/sm-plugin-<uid>`.
    public static func resolve(environment: [String: String]) -> String {
        if let explicit = environment["SM_RUN_DIR"], !explicit.isEmpty { return explicit }
        if getuid() == 0 { return system }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/sm-plugin" }
        return "/tmp/sm-plugin-\(getuid())"
    }
}
