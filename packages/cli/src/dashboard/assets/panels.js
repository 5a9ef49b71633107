// The raftline dashboard's service panels: queue depths, flags per
// environment, coordinators per task.
(function () {
  'use strict';

  var D = window.RaftlineDashboard;
  var el = D.el;
  var duration = D.duration;
  var clock = D.clock;
  var show = D.show;
  var nodesOf = D.nodesOf;
  var colorOf = D.colorOf;

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

  D.renderPanel = renderPanel;
})();
