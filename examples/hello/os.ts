// hello: the smallest oskit system that serves something. The kernel, init and services are
// oskit's own packages (make pkgs builds them into the local store); the page is a CGI script
// from this definition that shows what only the running guest knows: the configuration passed
// at boot (`oskit run qemu --data`) and its uptime.
import { join } from "node:path";
import * as oskit from "oskit";

const pkg = (name: string) => oskit.packageRef(join(__dirname, "..", "..", "pkg", name));

export default new oskit.Image({
  kernel: new oskit.Kernel({ image: pkg("kernel"), cmdline: "console=ttyS0 quiet" }),
  init: [pkg("init")],
  // The network first: on a cloud the metadata package asks the metadata service for user data.
  onboot: [
    new oskit.Service({ name: "dhcpcd", image: pkg("dhcpcd") }),
    new oskit.Service({ name: "metadata", image: pkg("metadata") }),
  ],
  services: [
    new oskit.Service({
      name: "web",
      image: pkg("httpd"),
      binds: ["/etc/web:/srv/www:ro", "/run/config:/run/config:ro"],
    }),
    new oskit.Service({ name: "getty", image: pkg("getty") }),
  ],
  files: [
    oskit.File.text("/etc/web/index.html", '<a href="/cgi-bin/hello">hello</a>\n', { mode: 0o644 }),
    oskit.File.text(
      "/etc/web/cgi-bin/hello",
      [
        "#!/bin/sh",
        'printf "Content-Type: text/plain\\r\\n\\r\\n"',
        'echo "hello from oskit"',
        'echo "nonce: $(/bin/busybox cat /run/config/userdata 2>/dev/null || echo none)"',
        'echo "uptime: $(/bin/busybox cut -d" " -f1 /proc/uptime) s"',
        "",
      ].join("\n"),
      { mode: 0o755 },
    ),
    oskit.File.metadata("/etc/oskit.yml", "yaml"),
  ],
});
