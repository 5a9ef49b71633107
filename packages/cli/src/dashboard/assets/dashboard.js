// The raftline dashboard's page script: plain browser JavaScript, no build.
// It follows the server's feed (/api/events, Server-Sent Events carrying the
// whole state after every refresh) and redraws each group in place; charts
// are uPlot's (served from /vendor). Every text from the feed goes in as
// textContent, never as HTML.
(function () {
  'use strict';

  var PALETTE = ['#4e9bff', '#f5a524', '#e5484d', '#3dd68c', '#b78cff', '#ffd60a', '#4cc9f0', '#ff7eb6'];
  var NO_LEADER = '#4b5563';
  var views = new Map();
  var lastState = null;
  var lastAt = 0;

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'class') node.className = v;
        else if (k === 'style') node.setAttribute('style', v);
        else node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function duration(ms) {
    if (ms === undefined || ms === null) return '-';
    if (ms < 1000) return Math.round(ms) + 'ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + 's';
    if (ms < 3600000) return Math.floor(ms / 60000) + 'm' + Math.floor((ms % 60000) / 1000) + 's';
    return Math.floor(ms / 3600000) + 'h' + Math.floor((ms % 3600000) / 60000) + 'm';
  }

  function clock(t) {
    var d = new Date(t);
    var p = function (n) {
      return String(n).padStart(2, '0');
    };
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function show(v) {
    return v === undefined || v === null ? '-' : String(v);
  }

  /** Every node a group names, sorted: a node keeps its colour across redraws. */
  function nodesOf(g) {
    var set = new Set();
    g.replicas.forEach(function (r) {
      set.add(r.node);
    });
    g.leaderChanges.forEach(function (c) {
      if (c.leaderId) set.add(c.leaderId);
    });
    return Array.from(set).sort();
  }

  function colorOf(nodes, node) {
    if (!node) return NO_LEADER;
    var i = nodes.indexOf(node);
    return PALETTE[(i < 0 ? nodes.length : i) % PALETTE.length];
  }

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

  // ------------------------------------------------------------ charts

  function chartWidth(container) {
    return Math.max(240, Math.floor(container.getBoundingClientRect().width) - 4);
  }

  function drawChart(v, which, container, g, series) {
    var nodes = nodesOf(g);
    var xs = g.samples.map(function (s) {
      return s.t / 1000;
    });
    var key = series
      .map(function (s) {
        return s.label;
      })
      .join('|');
    var data = [xs].concat(
      series.map(function (s) {
        return g.samples.map(s.value);
      }),
    );
    var chart = v.charts[which];
    if (chart && chart.key === key) {
      chart.plot.setData(data);
      return;
    }
    if (chart) chart.plot.destroy();
    container.replaceChildren();
    var axis = { stroke: '#9aa4b2', grid: { stroke: '#242b38', width: 1 }, ticks: { stroke: '#242b38' } };
    var plot = new uPlot(
      {
        width: chartWidth(container),
        height: 170,
        scales: {
          x: { time: true },
          y: {
            range: function (u, min, max) {
              return [0, max > 0 ? max * 1.15 : 1];
            },
          },
        },
        axes: [axis, Object.assign({}, axis, { size: 46 })],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        series: [{}].concat(
          series.map(function (s) {
            return {
              label: s.label,
              stroke: s.node === undefined ? '#e6e9ef' : colorOf(nodes, s.node),
              width: s.node === undefined ? 2 : 1.5,
              dash: s.dash,
              spanGaps: false,
              points: { show: false },
              value: function (u, val) {
                return val === null || val === undefined ? '-' : val.toFixed(1);
              },
            };
          }),
        ),
      },
      data,
      container,
    );
    v.charts[which] = { plot: plot, key: key, container: container };
  }

  function renderCharts(v, g) {
    var nodes = g.replicas.map(function (r) {
      return r.node;
    });
    drawChart(
      v,
      'throughput',
      v.thr,
      g,
      [
        {
          label: 'committed/s',
          value: function (s) {
            return s.committedPerSec;
          },
        },
      ].concat(
        nodes.map(function (n) {
          return {
            label: 'applied/s ' + n,
            node: n,
            value: function (s) {
              return n in s.appliedPerSec ? s.appliedPerSec[n] : null;
            },
          };
        }),
      ),
    );
    // The read series only once a read was timed (a service's query, or --probe).
    var reads = g.samples.some(function (s) {
      return s.readMs !== null;
    });
    var read = {
      label: 'linearizable read',
      value: function (s) {
        return s.readMs;
      },
    };
    drawChart(
      v,
      'latency',
      v.lat,
      g,
      (reads ? [read] : []).concat(
        nodes.map(function (n) {
          return {
            label: 'admin ' + n,
            node: n,
            dash: [4, 3],
            value: function (s) {
              return n in s.adminMs ? s.adminMs[n] : null;
            },
          };
        }),
      ),
    );
  }

  // ------------------------------------------------------------ leader timeline

  function renderTimeline(v, g, state) {
    var nodes = nodesOf(g);
    var end = state.now;
    var start = Math.max(state.startedAt, end - state.historyPoints * state.intervalMs);
    var span = Math.max(1, end - start);
    var changes = g.leaderChanges;
    var segments = [];
    for (var i = 0; i < changes.length; i++) {
      var from = Math.max(start, changes[i].at);
      var to = i + 1 < changes.length ? changes[i + 1].at : end;
      if (to <= start) continue;
      var c = changes[i];
      var width = (100 * (to - from)) / span;
      segments.push(
        el('div', {
          class: 'segment',
          'data-leader': c.leaderId || '',
          title:
            (c.leaderId ? c.leaderId + ' leads' : 'no leader') + ', term ' + c.term + ', from ' + clock(c.at),
          style:
            'left:' +
            (100 * (from - start)) / span +
            '%;width:' +
            width +
            '%;background:' +
            colorOf(nodes, c.leaderId),
          text: width > 6 ? (c.leaderId || 'none') + ' · t' + c.term : '',
        }),
      );
    }
    v.timeline.replaceChildren(
      el('div', { class: 'strip' }, segments),
      el('div', { class: 'axis muted' }, [el('span', { text: clock(start) }), el('span', { text: 'now' })]),
    );

    var items = changes
      .map(function (c) {
        var what = c.leaderId
          ? c.leaderId +
            ' leads in term ' +
            c.term +
            (c.previous && c.previous !== c.leaderId ? ' (was ' + c.previous + ')' : '')
          : 'no leader known (was ' + (c.previous || '-') + ')';
        return { at: c.at, kind: 'leader', text: what, color: colorOf(nodes, c.leaderId) };
      })
      .concat(
        g.reachability.map(function (r) {
          return {
            at: r.at,
            kind: r.reachable ? 'reachable' : 'unreachable',
            text:
              r.node + (r.reachable ? ' answers again' : ' unreachable' + (r.reason ? ': ' + r.reason : '')),
            color: colorOf(nodes, r.node),
          };
        }),
      );
    items.sort(function (a, b) {
      return b.at - a.at;
    });
    v.events.replaceChildren.apply(
      v.events,
      items.slice(0, 10).map(function (it) {
        return el('li', { 'data-kind': it.kind }, [
          el('time', { class: 'muted', text: clock(it.at) }),
          el('span', { class: 'dot', style: 'background:' + it.color }),
          it.text,
        ]);
      }),
    );
  }

  // ------------------------------------------------------------ service panels

  function table(headers, rows) {
    return el('table', {}, [
      el('thead', {}, [
        el(
          'tr',
          {},
          headers.map(function (h) {
            return el('th', { text: h });
          }),
        ),
      ]),
      el(
        'tbody',
        {},
        rows.map(function (cells) {
          return el(
            'tr',
            {},
            cells.map(function (c) {
              return typeof c === 'number'
                ? el('td', { class: 'num', text: c })
                : el('td', { text: show(c) });
            }),
          );
        }),
      ),
    ]);
  }

  function renderPanel(v, g) {
    var p = g.service;
    if (!p) {
      v.panel.replaceChildren();
      v.panel.hidden = true;
      return;
    }
    v.panel.hidden = false;
    v.panel.setAttribute('data-service', p.service);
    var title;
    var content;
    if (p.service === 'task-queue') {
      title = 'Queues';
      content =
        p.queues && p.queues.length
          ? table(
              ['Queue', 'Ready', 'Delayed', 'Leased', 'Dead', 'Done', 'Paused', 'Oldest ready'],
              p.queues.map(function (q) {
                return [
                  q.queue,
                  q.ready,
                  q.delayed,
                  q.leased,
                  q.dead,
                  q.done,
                  q.paused ? 'paused' : '',
                  duration(q.oldestReadyAgeMs),
                ];
              }),
            )
          : el('p', { class: 'muted', text: 'no queue yet' });
    } else if (p.service === 'feature-flags') {
      title =
        'Flags' +
        (p.environments
          ? ' in ' + p.environments.length + ' environment' + (p.environments.length === 1 ? '' : 's')
          : '');
      content =
        p.flags && p.flags.length
          ? table(
              ['Environment', 'Flag', 'Type', 'Enabled', 'Default', 'Rules', 'Version'],
              p.flags.map(function (f) {
                return [
                  f.environment,
                  f.key,
                  f.type,
                  f.enabled ? 'on' : 'off',
                  f.defaultVariant + ' = ' + f.defaultValue,
                  f.rules,
                  f.version,
                ];
              }),
            )
          : el('p', { class: 'muted', text: 'no flag yet' });
    } else {
      title = 'Coordinators';
      content =
        p.tasks && p.tasks.length
          ? table(
              ['Task', 'Status', 'Coordinator', 'Epoch', 'Lease left', 'Waiting'],
              p.tasks.map(function (t) {
                return [
                  t.task,
                  t.status,
                  t.holder || '-',
                  t.epoch,
                  t.holder ? duration(t.leaseLeftMs) : '-',
                  t.applicants,
                ];
              }),
            )
          : el('p', { class: 'muted', text: 'no task yet' });
    }
    var parts = [
      el('h3', {}, [title, p.truncated ? el('span', { class: 'muted', text: ' (the first ones)' }) : null]),
      p.error ? el('p', { class: 'notice', text: 'refresh failed: ' + p.error }) : null,
      content,
    ];
    v.panel.replaceChildren.apply(v.panel, parts.filter(Boolean));
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
      renderCharts(v, g);
      renderTimeline(v, g, state);
      renderPanel(v, g);
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
    views.forEach(function (v) {
      Object.keys(v.charts).forEach(function (k) {
        var c = v.charts[k];
        c.plot.setSize({ width: chartWidth(c.container), height: 170 });
      });
    });
  });

  connect();
})();
