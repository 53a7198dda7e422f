// hello: the smallest oskit system that serves something. A kernel, an init, DHCP at boot, and
// a web server answering "hello" on port 80.
import * as oskit from "oskit";

export default new oskit.Image({
  kernel: new oskit.Kernel({
    image: "linuxkit/kernel:6.6.71",
    cmdline: "console=ttyS0 console=tty0",
  }),
  init: [
    "linuxkit/init:8eea386739975a43af558eec757a7dcb3a3d2e7b",
    "linuxkit/runc:667e7ea2c426a2460ca21e3da065a57dbb3369c9",
    "linuxkit/containerd:a988a1a8bcbacb2c0c4be9ae8a2b5a8d5f0a2d1b",
  ],
  onboot: [
    new oskit.Service({
      name: "dhcpcd",
      image: "linuxkit/dhcpcd:157df9ef45a035f1542ec2270e374f18efef98a5",
      command: ["/sbin/dhcpcd", "--nobackground", "-f", "/dhcpcd.conf", "-1"],
    }),
  ],
  services: [
    new oskit.Service({
      name: "web",
      image: "busybox:1.36",
      command: ["httpd", "-f", "-p", "80", "-h", "/srv/www"],
      capabilities: ["CAP_NET_BIND_SERVICE"],
      binds: ["/etc/web:/srv/www:ro"],
      readonly: true,
    }),
  ],
  files: [
    oskit.File.text("/etc/web/index.html", "hello\n", { mode: 0o644 }),
    oskit.File.metadata("/etc/oskit.yml", "yaml"),
  ],
});
