// The raftline dashboard's charts (uPlot, served from /vendor) and its
// leader-change timeline.
(function () {
  'use strict';

  var D = window.RaftlineDashboard;
  var el = D.el;
  var duration = D.duration;
  var clock = D.clock;
  var show = D.show;
  var nodesOf = D.nodesOf;
  var colorOf = D.colorOf;

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

  D.renderCharts = renderCharts;
  D.renderTimeline = renderTimeline;
  D.resizeCharts = function (views) {
    views.forEach(function (v) {
      Object.keys(v.charts).forEach(function (k) {
        var c = v.charts[k];
        c.plot.setSize({ width: chartWidth(c.container), height: 170 });
      });
    });
  };
})();
