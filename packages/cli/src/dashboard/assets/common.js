// The raftline dashboard's shared helpers: every page script adds its part
// to window.RaftlineDashboard (no modules, no build). Text from the feed
// goes in as textContent, never as HTML.
(function () {
  'use strict';

  var PALETTE = ['#4e9bff', '#f5a524', '#e5484d', '#3dd68c', '#b78cff', '#ffd60a', '#4cc9f0', '#ff7eb6'];
  var NO_LEADER = '#4b5563';

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

  window.RaftlineDashboard = {
    el: el,
    duration: duration,
    clock: clock,
    show: show,
    nodesOf: nodesOf,
    colorOf: colorOf,
  };
})();
