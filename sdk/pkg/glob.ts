/**
 * Path globs for package filters: `*` and `?` stay within one path component, `**` matches any
 * number of components (`/usr/lib/**`), `{a,b}` alternatives. A pattern matches a path or
 * anything below it, so `/lib/modules` keeps the whole directory.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") {
        out += "(?:.*/)?";
        i++;
      } else out += ".*";
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "{") {
      const end = pattern.indexOf("}", i);
      if (end < 0) out += "\\{";
      else {
        out += `(?:${pattern
          .slice(i + 1, end)
          .split(",")
          .map(escape)
          .join("|")})`;
        i = end;
      }
    } else out += escape(c);
  }
  return new RegExp(`^${out}(?:/.*)?$`);
}

function escape(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, "\\$&");
}

/** A predicate for paths matching any of the patterns. */
export function globMatcher(patterns: readonly string[]): (path: string) => boolean {
  const regexps = patterns.map(globToRegExp);
  return (path) => regexps.some((r) => r.test(path));
}
