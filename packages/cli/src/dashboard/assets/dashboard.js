// The raftline dashboard's page script: plain browser JavaScript, no build.
// It follows the server's feed (/api/events, Server-Sent Events carrying the
// whole state after every refresh) and redraws each group in place, with
// the parts common.js, charts.js and panels.js add to window.RaftlineDashboard.
(function () {
  'use strict';

  var D = window.RaftlineDashboard;
  var el = D.el;
  var duration = D.duration;
  var clock = D.clock;
  var show = D.show;
  var nodesOf = D.nodesOf;
  var colorOf = D.colorOf;
  var views = new Map();
  var lastState = null;
  var lastAt = 0;

  // ------------------------------------------------------------ a group's section

  function viewOf(group) {
    var v = views.get(group);
    if (v) return v;
    var section = el('section', { class: 'group', 'data-group': group });
    var head = el('div', { class: 'group-head' });
    var body = el('div', { class: 'group-body' });
    v = {
      section: section,
      head: head,
      error: el('p', { class: 'notice', hidden: true }),
      table: el('div', { class: 'replicas' }),
      thr: el('div', { class: 'chart', 'data-chart': 'throughput' }),
      lat: el('div', { class: 'chart', 'data-chart': 'latency' }),
      timeline: el('div', { class: 'timeline' }),
      events: el('ol', { class: 'events' }),
      panel: el('div', { class: 'panel' }),
      charts: {},
    };
    body.appendChild(v.table);
    body.appendChild(
      el('div', { class: 'charts' }, [
        el('figure', {}, [el('figcaption', { text: 'Throughput (entries/s)' }), v.thr]),
        el('figure', {}, [el('figcaption', { text: 'Latency (ms)' }), v.lat]),
      ]),
    );
    body.appendChild(
      el('div', { class: 'history' }, [el('h3', { text: 'Leader changes' }), v.timeline, v.events]),
    );
    body.appendChild(v.panel);
    section.appendChild(head);
    section.appendChild(v.error);
    section.appendChild(body);
    document.getElementById('groups').appendChild(section);
    views.set(group, v);
    return v;
  }

  function renderHead(v, g) {
    var nodes = nodesOf(g);
    var leader = g.leaderId
      ? el('b', { 'data-field': 'leader', style: 'color:' + colorOf(nodes, g.leaderId), text: g.leaderId })
      : el('b', { 'data-field': 'leader', class: 'muted', text: 'none known' });
    var parts = [
      el('h2', { text: g.group }),
      g.service ? el('span', { class: 'badge', 'data-field': 'service', text: g.service.service }) : null,
      el('span', {}, ['leader ', leader]),
      g.leaderId && !g.leaderReachable
        ? el('span', { class: 'badge bad', 'data-field': 'leader-unreachable', text: 'not answering' })
        : null,
      el('span', {}, ['term ', el('b', { 'data-field': 'term', text: g.term })]),
      el('span', { class: 'muted', text: 'voters ' + (g.members.voters.join(', ') || '-') }),
      g.members.learners.length
        ? el('span', { class: 'muted', text: 'learners ' + g.members.learners.join(', ') })
        : null,
    ];
    v.head.replaceChildren.apply(v.head, parts.filter(Boolean));
    v.error.hidden = !g.error;
    v.error.textContent = g.error
      ? 'No replica answered the last refresh' +
        (g.updatedAt ? ' (rows as of ' + clock(g.updatedAt) + ')' : '') +
        ': ' +
        g.error
      : '';
  }

  var COLUMNS = [
    'Node',
    'Role',
    'Term',
    'Leader',
    'Commit',
    'Applied',
    'Lag',
    'Store',
    'Version',
    'Uptime',
    'Admin RTT',
  ];

  function renderTable(v, g) {
    var last = g.samples[g.samples.length - 1];
    var nodes = nodesOf(g);
    var rows = g.replicas.map(function (r) {
      var dot = el('span', { class: 'dot', style: 'background:' + colorOf(nodes, r.node) });
      if (!r.reachable) {
        return el('tr', { 'data-node': r.node, 'data-role': 'unreachable', class: 'down' }, [
          el('td', {}, [dot, r.node]),
          el('td', { class: 'role', 'data-field': 'role', text: 'unreachable' }),
          el('td', { colspan: COLUMNS.length - 2, class: 'reason', text: r.reason || '' }),
        ]);
      }
      var lag =
        r.lagEntries === undefined
          ? '-'
          : r.lagEntries + (r.lagMs > 0 ? ' (' + (r.lagMsAtLeast ? '≥' : '') + duration(r.lagMs) + ')' : '');
      var rtt =
        last && last.adminMs[r.node] !== undefined && last.adminMs[r.node] !== null
          ? last.adminMs[r.node].toFixed(1) + 'ms'
          : '-';
      return el(
        'tr',
        { 'data-node': r.node, 'data-role': r.role, class: r.role === 'leader' ? 'leader' : '' },
        [
          el('td', {}, [
            dot,
            r.node,
            r.membership !== 'voter' ? el('span', { class: 'muted', text: ' ' + r.membership }) : null,
          ]),
          el('td', { class: 'role', 'data-field': 'role', text: r.role }),
          el('td', { class: 'num', text: show(r.term) }),
          el('td', { text: r.leaderId || '-' }),
          el('td', { class: 'num', text: show(r.commitIndex) }),
          el('td', { class: 'num', text: show(r.appliedIndex) }),
          el('td', { class: 'num', text: lag }),
          el('td', { class: r.store === 'ok' ? 'ok' : 'bad', title: r.storageError || '', text: r.store }),
          el('td', { text: show(r.version) }),
          el('td', { class: 'num', text: duration(r.uptimeMs) }),
          el('td', { class: 'num', text: rtt }),
        ],
      );
    });
    var table = el('table', {}, [
      el('thead', {}, [
        el(
          'tr',
          {},
          COLUMNS.map(function (c) {
            return el('th', { text: c });
          }),
        ),
      ]),
      el('tbody', {}, rows),
    ]);
    v.table.replaceChildren(table);
  }

  // ------------------------------------------------------------ the page

  function render(state) {
    lastState = state;
    lastAt = Date.now();
    document.getElementById('cluster').textContent = state.cluster;
    document.getElementById('interval').textContent =
      state.intervalMs === 1000 ? 'every second' : 'every ' + duration(state.intervalMs);
    var notice = document.getElementById('notice');
    notice.hidden = !state.error;
    notice.textContent = state.error || '';
    var seen = new Set();
    state.groups.forEach(function (g) {
      seen.add(g.group);
      var v = viewOf(g.group);
      renderHead(v, g);
      renderTable(v, g);
      D.renderCharts(v, g);
      D.renderTimeline(v, g, state);
      D.renderPanel(v, g);
    });
    views.forEach(function (v, group) {
      if (!seen.has(group)) {
        v.section.remove();
        views.delete(group);
      }
    });
    document.getElementById('updated').textContent = 'updated ' + clock(state.now);
    document.body.setAttribute('data-updated', String(state.now));
  }

  function setFeed(state, text) {
    var feed = document.getElementById('feed');
    feed.setAttribute('data-state', state);
    feed.textContent = text;
  }

  function connect() {
    var source = new EventSource('/api/events');
    source.onopen = function () {
      setFeed('live', 'live');
    };
    source.onmessage = function (e) {
      setFeed('live', 'live');
      render(JSON.parse(e.data));
    };
    source.onerror = function () {
      setFeed('down', 'reconnecting…');
    };
  }

  setInterval(function () {
    if (lastState && Date.now() - lastAt > 3 * lastState.intervalMs + 2000)
      setFeed('stale', 'no update for ' + duration(Date.now() - lastAt));
  }, 1000);

  window.addEventListener('resize', function () {
    D.resizeCharts(views);
  });

  connect();
})();
