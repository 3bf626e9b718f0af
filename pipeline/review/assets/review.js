// anthology-resolve review pages: filter the index; on a name page, move papers between
// persons and write the resulting registry entries, changes and decisions file.
"use strict";

(function () {
  const search = document.getElementById("search");
  if (search) {
    const rows = Array.from(document.querySelectorAll("#names tbody tr"));
    const shown = document.getElementById("shown");
    const filter = () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      let count = 0;
      for (const row of rows) {
        const hit = words.every((w) => row.dataset.search.includes(w));
        row.hidden = !hit;
        if (hit) count += 1;
      }
      shown.textContent = `${count} of ${rows.length} names shown`;
    };
    search.addEventListener("input", filter);
    filter();
  }

  const dataNode = document.getElementById("page-data");
  if (!dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  const groupsNode = document.getElementById("groups");
  const target = document.getElementById("target");
  const original = new Map();  // mention key -> group key as proposed
  const groups = data.groups.map((g) => ({ ...g }));
  for (const g of groups) for (const m of g.mentions) original.set(m, g.key);

  const sectionOf = (key) => groupsNode.querySelector(`section.group[data-key="${CSS.escape(key)}"]`);
  const label = (g) => (g.person === null ? `as today, not changed (${g.key})`
    : g.status === "unresolved" ? "not attributed (" + g.person + ")" : g.person + " (" + g.status + ")");
  const CATCH_ALL_COMMENT = data.catch_all_comment;
  const shown = (person) => (person === null ? "as today" : person);

  function freeId() {
    const used = new Set([...data.taken, ...groups.map((g) => g.person)]);
    for (let n = 2; ; n += 1) {
      const candidate = `${data.name}-${n}`;
      if (!used.has(candidate)) return candidate;
    }
  }

  function fillTargets() {
    target.replaceChildren();
    for (const g of groups) target.append(new Option(label(g), g.key));
    target.append(new Option("a new person", "__new__"));
  }

  function newGroup() {
    const person = freeId();
    const group = { key: `${data.name}#decided-${person}`, person, status: "new", mentions: [] };
    groups.push(group);
    const index = groupsNode.children.length;
    const section = document.createElement("section");
    section.className = "group";
    section.id = `group-${index}`;
    section.dataset.key = group.key;
    section.setAttribute("aria-labelledby", `heading-${index}`);
    section.innerHTML = `<h2 id="heading-${index}"><span class="person"></span> <span class="status status-new">new</span></h2>` +
      `<p class="facts"><span class="count">0</span> mentions; a person you created</p><ol class="papers"></ol>`;
    section.querySelector(".person").textContent = person;
    groupsNode.append(section);
    fillTargets();
    return group;
  }

  function countSelected() {
    const n = groupsNode.querySelectorAll("input.pick:checked").length;
    document.getElementById("selected").textContent = `${n} paper${n === 1 ? "" : "s"} selected`;
  }

  function refresh() {
    for (const g of groups) {
      const section = sectionOf(g.key);
      g.mentions = Array.from(section.querySelectorAll("li.paper")).map((li) => li.dataset.mention);
      const count = section.querySelector(".count");
      if (count) count.textContent = String(g.mentions.length);
    }
    writeDecision();
    countSelected();
  }

  function names(group) {
    const counts = new Map();
    for (const key of group.mentions) {
      const m = data.mentions[key];
      const id = JSON.stringify([m.first, m.last]);
      counts.set(id, (counts.get(id) || 0) + 1);
    }
    // As export orders a new entry's names: by use, then family name, then given name.
    const order = (text) => { const [first, last] = JSON.parse(text); return [last, first]; };
    return Array.from(counts.entries())
      .sort((a, b) => b[1] - a[1] || compare(order(a[0]), order(b[0])))
      .map(([id]) => JSON.parse(id));
  }

  const compare = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

  function firstAffiliation(group) {
    const ordered = group.mentions.map((k) => data.mentions[k])
      .sort((a, b) => a.year - b.year || (a.paper < b.paper ? -1 : a.paper > b.paper ? 1 : 0));
    const found = ordered.find((m) => m.affiliation);
    return found ? found.affiliation : "";
  }

  // A YAML scalar as the exporter writes it (PyYAML): plain where that reads back as the same
  // text, else single-quoted. Inside a flow mapping ({first: ..}) commas and brackets quote too.
  const RESERVED = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/;
  const NUMBER = /^[-+]?(?:\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+|\.inf|\.nan)$/i;
  const yamlScalar = (text, inFlow) => {
    const plain = text !== "" && text.trim() === text && !/^[,\[\]{}#&*!|>'"%@`?:]/.test(text)
      && !/^- /.test(text) && !/: |:$| #/.test(text) && !RESERVED.test(text) && !NUMBER.test(text)
      && !(inFlow && /[,\[\]{}]/.test(text));
    return plain ? text : `'${text.replace(/'/g, "''")}'`;
  };
  const yamlText = (text) => yamlScalar(text, false);
  const yamlName = ([first, last]) => `{first: ${yamlScalar(first, true)}, last: ${yamlScalar(last, true)}}`;

  // Export gives a new person the ORCID its mentions share, when exactly one and no
  // registry person has it.
  function sharedOrcid(group) {
    const found = new Set(group.mentions.map((k) => data.mentions[k].orcid).filter(Boolean));
    if (found.size !== 1) return "";
    const [orcid] = found;
    return data.orcid_owned.includes(orcid) ? "" : orcid;
  }

  function entry(group, comment) {
    const [canonical, ...variants] = names(group);
    const note = comment === undefined ? firstAffiliation(group) : comment;
    const orcid = comment === undefined ? sharedOrcid(group) : "";
    const merged = data.merged[group.person];
    const mergeNote = merged
      ? `\n# a name-variant merge joins this person with ${merged.join(" / ")}: export lists those names too`
      : "";
    if (data.registry === "legacy") {
      const lines = [`- canonical: ${yamlName(canonical)}`, `  id: ${group.person}`];
      if (orcid) lines.push(`  orcid: ${orcid}`);
      if (note) lines.push(`  comment: ${yamlText(note)}`);
      if (variants.length) lines.push("  variants:", ...variants.map((n) => `  - ${yamlName(n)}`));
      return lines.join("\n") + mergeNote;
    }
    const value = {};
    if (note) value.comment = note;
    value.names = [canonical, ...variants].map(([first, last]) => ({ first, last }));
    if (orcid) value.orcid = orcid;
    return `${JSON.stringify(group.person)}: ${JSON.stringify(value)}` + mergeNote;
  }

  // In the legacy format a name that gets a person needs a catch-all entry for the mentions
  // left as today (export's rule for null decisions).
  function catchAllEntry(fresh) {
    if (data.registry !== "legacy" || data.catch_all || !fresh.length) return null;
    const left = groups.filter((g) => g.person === null && g.mentions.length);
    if (!left.length) return null;
    // The bare slug is the name's implicit person in this format, so numbering starts at 2.
    const group = { person: freeId(), mentions: left.flatMap((g) => g.mentions) };
    return { group, text: entry(group, CATCH_ALL_COMMENT) };
  }

  function decisionDocument() {
    return {
      format: data.format,
      version: data.version,
      decisions: groups.filter((g) => g.mentions.length).map((g) => ({
        name: data.name,
        person: g.person,
        mentions: g.mentions.map((k) => {
          const m = data.mentions[k];
          return { paper: m.paper, role: m.role, position: m.position };
        }),
      })),
    };
  }

  function writeDecision() {
    const moved = [];
    const fresh = groups.filter((g) => g.status === "new" && g.mentions.length);
    const catchAll = catchAllEntry(fresh);
    for (const g of groups) {
      for (const key of g.mentions) {
        if (original.get(key) !== g.key) {
          const m = data.mentions[key];
          moved.push(`${m.paper} (${m.role} ${m.position + 1}, ${m.first} ${m.last}) -> ${shown(g.person)}`);
        }
      }
    }
    if (catchAll) {
      for (const key of catchAll.group.mentions) {
        const m = data.mentions[key];
        moved.push(`${m.paper} (${m.role} ${m.position + 1}, ${m.first} ${m.last}) -> ${catchAll.group.person} (catch-all)`);
      }
    }
    const file = data.registry === "legacy" ? "yaml/name_variants.yaml" : "json/people.json";
    const parts = [];
    if (fresh.length) {
      parts.push(`# New persons (${file})`, ...fresh.map((g) => entry(g)));
      if (catchAll) parts.push("# and the catch-all for the mentions left as today", catchAll.text);
      parts.push("");
    }
    parts.push(`# Paper -> person changes (${moved.length})`, ...(moved.length ? moved : ["none"]));
    document.getElementById("decision-text").value = parts.join("\n");
    document.getElementById("decision-json").value = JSON.stringify(decisionDocument(), null, 2);
    document.getElementById("decision-status").textContent = moved.length
      ? `${moved.length} mention${moved.length === 1 ? "" : "s"} moved.`
      : "Nothing moved yet: the resolution as proposed.";
  }

  document.getElementById("mover").addEventListener("submit", (event) => {
    event.preventDefault();
    const picked = Array.from(groupsNode.querySelectorAll("input.pick:checked"));
    if (!picked.length) return;
    const group = target.value === "__new__" ? newGroup() : groups.find((g) => g.key === target.value);
    const list = sectionOf(group.key).querySelector("ol.papers");
    for (const box of picked) {
      box.checked = false;
      list.append(box.closest("li.paper"));
    }
    target.value = group.key;
    refresh();
  });
  groupsNode.addEventListener("change", countSelected);

  document.getElementById("download").addEventListener("click", () => {
    const blob = new Blob([document.getElementById("decision-json").value + "\n"], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `decisions-${data.name}.json`;
    document.body.append(link);
    link.click();
    link.remove();
  });
  document.getElementById("copy").addEventListener("click", async () => {
    const text = document.getElementById("decision-text");
    try {
      await navigator.clipboard.writeText(text.value);
    } catch (error) {
      text.select();
      document.execCommand("copy");
    }
  });

  fillTargets();
  refresh();
})();
