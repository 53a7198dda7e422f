// Azure's WireServer as strict as a provisioning agent needs it: the goal state and the health
// report (what Azure's agent and cloud-init exchange to report a VM ready), plus the ovf-env.xml of
// Azure's provisioning DVD, for pkg/metadata's tests.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** An XML element: its local name (the prefix dropped), own text and children. */
export interface XmlElement {
  readonly name: string;
  readonly text: string;
  readonly children: XmlElement[];
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * A small strict XML reader for the documents here: one root, tags that nest, the five named
 * entities and character references; throws on anything else (DOCTYPE and CDATA included).
 */
export function parseXml(xml: string): XmlElement {
  const tokens =
    /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z_][-\w.:]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|([\s\S])/g;
  const decode = (text: string) =>
    text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|\w+);|&/g, (whole, ref?: string) => {
      if (ref === undefined) throw new Error(`a bare & in ${JSON.stringify(text)}`);
      if (ref.startsWith("#x")) return String.fromCodePoint(parseInt(ref.slice(2), 16));
      if (ref.startsWith("#")) return String.fromCodePoint(parseInt(ref.slice(1), 10));
      const value = ENTITIES[ref];
      if (value === undefined) throw new Error(`unknown entity ${whole}`);
      return value;
    });
  const stack: { qname: string; element: XmlElement }[] = [];
  let root: XmlElement | undefined;
  for (const [, close, qname, , empty, text, other] of xml
    .replace(/^\uFEFF/, "")
    .matchAll(tokens)) {
    if (other !== undefined) throw new Error(`not XML at ${JSON.stringify(other)}`);
    if (text !== undefined) {
      const top = stack.at(-1);
      if (top !== undefined) (top.element as { text: string }).text += decode(text);
      else if (text.trim() !== "") throw new Error("text outside the root element");
      continue;
    }
    if (qname === undefined) continue; // a declaration or a comment
    if (close === "/") {
      const top = stack.pop();
      if (top?.qname !== qname) throw new Error(`</${qname}> closes <${top?.qname ?? "nothing"}>`);
      continue;
    }
    const element: XmlElement = { name: qname.replace(/^[^:]*:/, ""), text: "", children: [] };
    const parent = stack.at(-1);
    if (parent !== undefined) parent.element.children.push(element);
    else if (root !== undefined) throw new Error("more than one root element");
    else root = element;
    if (empty !== "/") stack.push({ qname, element });
  }
  if (root === undefined || stack.length > 0) throw new Error("no root element, or one not closed");
  return root;
}

/** The child elements at a path of local names below an element. */
export function xmlAll(element: XmlElement, path: string): XmlElement[] {
  return path
    .split("/")
    .reduce<XmlElement[]>(
      (at, name) => at.flatMap((e) => e.children.filter((c) => c.name === name)),
      [element],
    );
}

/** The trimmed text of the one element at a path; throws when there is not exactly one. */
export function xmlText(element: XmlElement, path: string): string {
  const found = xmlAll(element, path);
  if (found.length !== 1) throw new Error(`${found.length} elements at ${path}`);
  return found[0]!.text.trim();
}

export interface GoalState {
  readonly incarnation: string;
  readonly containerId: string;
  readonly instanceId: string;
}

/** A health report as the WireServer read it. */
export interface HealthReport extends GoalState {
  readonly state: string;
  readonly subStatus?: string;
  readonly description?: string;
}

export interface WireRequest {
  readonly method: string;
  readonly url: string;
  readonly status: number;
}

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A goal state document shaped like the WireServer's (version 2012-11-30). */
export function goalStateXml(goal: GoalState): string {
  const config = `http://168.63.129.16:80/machine/${goal.containerId}/${goal.instanceId}?comp=config&amp;incarnation=${goal.incarnation}`;
  return `<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd">
  <Version>2012-11-30</Version>
  <Incarnation>${escapeXml(goal.incarnation)}</Incarnation>
  <Machine>
    <ExpectedState>Started</ExpectedState>
    <StopRolesDeadlineHint>300000</StopRolesDeadlineHint>
    <LBProbePorts>
      <Port>16001</Port>
    </LBProbePorts>
    <ExpectHealthReport>FALSE</ExpectHealthReport>
  </Machine>
  <Container>
    <ContainerId>${escapeXml(goal.containerId)}</ContainerId>
    <RoleInstanceList>
      <RoleInstance>
        <InstanceId>${escapeXml(goal.instanceId)}</InstanceId>
        <State>Started</State>
        <Configuration>
          <HostingEnvironmentConfig>${config}&amp;type=hostingEnvironmentConfig</HostingEnvironmentConfig>
          <SharedConfig>${config}&amp;type=sharedConfig</SharedConfig>
          <Certificates>${config}&amp;type=certificates</Certificates>
          <ConfigName>${escapeXml(goal.instanceId)}.0.${escapeXml(goal.instanceId)}.1.xml</ConfigName>
        </Configuration>
      </RoleInstance>
    </RoleInstanceList>
  </Container>
</GoalState>
`;
}

/** Reads a health report; throws when it is not one. */
export function parseHealthReport(xml: string): HealthReport {
  const root = parseXml(xml);
  if (root.name !== "Health") throw new Error(`root element ${root.name}, not Health`);
  const role = "Container/RoleInstanceList/Role";
  const details = xmlAll(root, `${role}/Health/Details`).length > 0;
  return {
    incarnation: xmlText(root, "GoalStateIncarnation"),
    containerId: xmlText(root, "Container/ContainerId"),
    instanceId: xmlText(root, `${role}/InstanceId`),
    state: xmlText(root, `${role}/Health/State`),
    ...(details && {
      subStatus: xmlText(root, `${role}/Health/Details/SubStatus`),
      description: xmlText(root, `${role}/Health/Details/Description`),
    }),
  };
}

/**
 * The WireServer: `GET /machine/?comp=goalstate` and `POST /machine?comp=health`, both with
 * `x-ms-version: 2012-11-30` (400 without), the report as `text/xml` in UTF-8, read as XML and
 * matched against the goal state served (400 when it does not match). `notYet` lists the answers
 * given to the first goal state requests (a WireServer still preparing it answers 503 or 410).
 */
export class FakeWireServer {
  readonly requests: WireRequest[] = [];
  readonly reports: HealthReport[] = [];
  /** Every request refused for not being what Azure's WireServer takes, and why. */
  readonly refused: string[] = [];
  goal: GoalState = {
    incarnation: "3",
    containerId: "7d3a1f52-2c4e-4a8b-9d0e-1f2a3b4c5d6e",
    instanceId: "896c4a2e-5b7d-4f19-8e3a-0c1d2e3f4a5b.oskit-vm",
  };
  notYet: number[] = [];
  private server!: Server;

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      void this.answer(req).then(([status, body]) => {
        this.requests.push({ method: req.method ?? "", url: req.url ?? "", status });
        res.writeHead(status, { "Content-Type": "text/xml; charset=utf-8", Connection: "close" });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private refuse(why: string): [number, string] {
    this.refused.push(why);
    return [400, `<Error><Message>${escapeXml(why)}</Message></Error>`];
  }

  private async answer(req: IncomingMessage): Promise<[number, string]> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const what = `${req.method} ${req.url}`;
    const version = req.headers["x-ms-version"];
    if (version !== "2012-11-30")
      return this.refuse(`${what}: x-ms-version ${String(version)}, not 2012-11-30`);
    if (req.url === "/machine/?comp=goalstate") {
      if (req.method !== "GET") return this.refuse(`${what}: the goal state is read with GET`);
      const early = this.notYet.shift();
      if (early !== undefined) return [early, ""];
      return [200, goalStateXml(this.goal)];
    }
    if (req.url === "/machine?comp=health") {
      if (req.method !== "POST") return this.refuse(`${what}: a health report is a POST`);
      const type = (req.headers["content-type"] ?? "").toLowerCase().replace(/\s/g, "").split(";");
      if (type[0] !== "text/xml" || !type.includes("charset=utf-8"))
        return this.refuse(
          `${what}: Content-Type ${req.headers["content-type"]}, not text/xml;charset=utf-8`,
        );
      let report: HealthReport;
      try {
        report = parseHealthReport(new TextDecoder("utf-8", { fatal: true }).decode(body));
      } catch (error) {
        return this.refuse(`${what}: ${(error as Error).message}`);
      }
      const { incarnation, containerId, instanceId } = report;
      if (JSON.stringify({ incarnation, containerId, instanceId }) !== JSON.stringify(this.goal))
        return this.refuse(
          `${what}: ${JSON.stringify(report)} is not for goal state ${JSON.stringify(this.goal)}`,
        );
      if (!["Ready", "NotReady"].includes(report.state))
        return this.refuse(`${what}: state ${report.state}`);
      this.reports.push(report);
      return [200, ""];
    }
    return [404, ""];
  }
}

export interface OvfEnvOptions {
  /** The prefix of Azure's namespace (`ns1`, as Azure writes it, or `wa`); "" for a default namespace. @default "ns1" */
  readonly prefix?: string;
  readonly hostName?: string;
  /** Written as given (base64 already), wrapped at 76 characters as Azure does; none when undefined. */
  readonly customData?: string;
  readonly keys?: readonly { readonly fingerprint?: string; readonly value?: string }[];
  readonly password?: string;
}

/** An ovf-env.xml as on Azure's provisioning DVD. */
export function ovfEnvXml(options: OvfEnvOptions = {}): string {
  const p = options.prefix ?? "ns1";
  const wa = "http://schemas.microsoft.com/windowsazure";
  const t = (name: string, body: string) =>
    p === "" ? `<${name}>${body}</${name}>` : `<${p}:${name}>${body}</${p}:${name}>`;
  const keys = (options.keys ?? []).map((k) =>
    t(
      "PublicKey",
      [
        k.fingerprint === undefined ? "" : t("Fingerprint", k.fingerprint),
        t("Path", "/home/azureuser/.ssh/authorized_keys"),
        k.value === undefined ? "" : t("Value", escapeXml(k.value)),
      ].join(""),
    ),
  );
  const set = [
    t("ConfigurationSetType", "LinuxProvisioningConfiguration"),
    t("HostName", options.hostName ?? "oskit-vm"),
    t("UserName", "azureuser"),
    options.password === undefined ? "" : t("UserPassword", escapeXml(options.password)),
    t("DisableSshPasswordAuthentication", "true"),
    keys.length === 0 ? "" : t("SSH", t("PublicKeys", keys.join("\n        "))),
    options.customData === undefined
      ? ""
      : t("CustomData", options.customData.replace(/(.{76})/g, "$1\n")),
  ].filter((line) => line !== "");
  const open =
    p === ""
      ? `<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1">\n  <ProvisioningSection xmlns="${wa}">`
      : `<ns0:Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:ns0="http://schemas.dmtf.org/ovf/environment/1" xmlns:${p}="${wa}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <${p}:ProvisioningSection>`;
  const close =
    p === ""
      ? "</ProvisioningSection>\n</Environment>"
      : `</${p}:ProvisioningSection>\n</ns0:Environment>`;
  return `<?xml version="1.0" encoding="utf-8"?>
${open}
    ${t("Version", "1.0")}
    ${t("LinuxProvisioningConfigurationSet", `\n      ${set.join("\n      ")}\n    `)}
  ${close.split("\n")[0]}
  ${t("PlatformSettingsSection", `${t("Version", "1.0")}${t("PlatformSettings", t("ProvisionGuestAgent", "false"))}`)}
${close.split("\n")[1]}
`;
}
