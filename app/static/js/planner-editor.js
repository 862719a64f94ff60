/*
 * The planner map's grid editor: a panel that previews an edit through the grid-edit API
 * (?dry_run=true) and submits it.
 *
 * A planner clicks grids to select them (Shift/Ctrl-click adds) and draws a line or polygon
 * with the Leaflet.draw tools; the panel offers the edits that fit (split along the line,
 * reshape to the polygon, create a grid from the polygon, merge the selection), previews the
 * verdict of the topology rules with the offending geometry drawn in red and the new grids
 * dashed, then submits.
 *
 * Everything page-specific comes as JSON data from <script type="application/json"
 * id="cg-editor-config">: the global names of the map and of the drawn-shapes layer, the
 * grid API's base path, the CSRF header and the session's token, and the panel's words.
 * This file is loaded with `defer`, so it runs after the map's own script built the map.
 */
(function () {
  'use strict';
  var source = document.getElementById('cg-editor-config');
  if (!source) return;
  var cfg = JSON.parse(source.textContent);
  var map = window[cfg.map], drawn = window[cfg.drawn], api = cfg.api, T = cfg.text;
  var selected = [], shape = null, preview = null, styles = {}, byCode = {};

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  var $ = function (id) { return document.getElementById(id); };

  var panel = L.control({position: 'topright'});
  panel.onAdd = function () {
    var d = L.DomUtil.create('div', 'cg-editor');
    d.id = 'cg-editor';
    d.innerHTML = '<h3>' + esc(T.heading) + '</h3><p class="help">' + esc(T.help) + '</p>' +
      '<div>' + esc(T.selected) + ': <b id="cg-selected">' + esc(T.none) + '</b></div>' +
      '<div>' + esc(T.drawn) + ': <b id="cg-drawn">' + esc(T.none) + '</b></div>' +
      '<div id="cg-actions"></div>' +
      '<input type="text" id="cg-note" maxlength="2000" placeholder="' + esc(T.note) + '">' +
      '<button id="cg-preview">' + esc(T.preview) + '</button>' +
      '<button id="cg-submit" disabled>' + esc(T.submit) + '</button>' +
      '<button id="cg-clear">' + esc(T.clear) + '</button><div id="cg-result"></div>';
    L.DomEvent.disableClickPropagation(d);
    L.DomEvent.disableScrollPropagation(d);
    return d;
  };
  panel.addTo(map);

  // The edits that fit what is selected and drawn.
  function actions() {
    var out = [], kind = shape && shape.geometry.type;
    if (selected.length === 1 && kind === 'LineString') out.push('split');
    if (selected.length === 1 && kind === 'Polygon') out.push('reshape');
    if (selected.length === 0 && kind === 'Polygon') out.push('create');
    if (selected.length >= 2 && !shape) out.push('merge');
    return out;
  }
  function refresh() {
    $('cg-selected').textContent = selected.length ? selected.join(', ') : T.none;
    $('cg-drawn').textContent = shape ? T[shape.geometry.type === 'LineString' ? 'line' : 'polygon'] : T.none;
    $('cg-actions').innerHTML = actions().map(function (a, i) {
      return '<label><input type="radio" name="cg-action" value="' + a + '"' +
        (i === 0 ? ' checked' : '') + '> ' + esc(T[a]) + '</label>';
    }).join('');
    $('cg-submit').disabled = true;
    clearPreview();
  }
  function clearPreview() {
    if (preview) { map.removeLayer(preview); preview = null; }
    $('cg-result').innerHTML = '';
  }

  function request(dryRun) {
    var checked = document.querySelector('input[name=cg-action]:checked');
    if (!checked) { $('cg-result').innerHTML = '<p class="bad">' + esc(T.nothing) + '</p>'; return null; }
    var action = checked.value, url, body;
    var code = encodeURIComponent(selected[0]);
    if (action === 'split') { url = api + '/' + code + '/split'; body = {line: shape.geometry}; }
    if (action === 'reshape') { url = api + '/' + code + '/reshape'; body = {geometry: shape.geometry}; }
    if (action === 'create') { url = api; body = {geometry: shape.geometry}; }
    if (action === 'merge') { url = api + '/merge'; body = {codes: selected.slice()}; }
    body.note = $('cg-note').value || null;
    var headers = {'Content-Type': 'application/json', 'Accept': 'application/json'};
    headers[cfg.csrf_header] = cfg.csrf;
    return fetch(url + (dryRun ? '?dry_run=true' : ''), {
      method: 'POST', credentials: 'same-origin', headers: headers, body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { return {status: r.status, body: j}; }); });
  }

  function items(list, text) {
    return '<ul>' + list.map(function (v) { return '<li>' + esc(text(v)) + '</li>'; }).join('') + '</ul>';
  }
  function show(res, dryRun) {
    clearPreview();
    var b = res.body, html = '';
    var message = function (v) { return v[T.lang_key]; };
    preview = L.featureGroup().addTo(map);
    if (res.status >= 400) {
      html += '<p class="bad">' + esc(T.failed) + ' (' + res.status + '): ' + esc(b.detail || b.title) + '</p>';
    } else if (!dryRun) {
      html += '<p class="ok">' + esc(T.saved) + ' ' + esc(b.edit_id) + '. ' + esc(T.reloading) + '</p>';
      setTimeout(function () { window.location.reload(); }, 1200);
    } else {
      html += b.valid ? '<p class="ok">' + esc(T.valid) + '</p>'
                      : '<p class="bad">' + esc(T.invalid) + ' (' + b.violations.length + ')</p>';
    }
    var violations = b.violations || [];
    if (violations.length) {
      html += items(violations, message);
      violations.forEach(function (v) {
        if (v.geometry) L.geoJSON(v.geometry, {style: {color: '#d7191c', weight: 3, fillOpacity: 0.5}}).addTo(preview);
      });
    }
    if (b.warnings && b.warnings.length) html += esc(T.warnings) + ':' + items(b.warnings, message);
    if (b.started) {
      html += esc(T.new_grids) + ':' + items(b.started, function (s) {
        return s.code + ' · ' + Math.round(s.area_m2) + ' ' + T.m2;
      });
      if (b.retired && b.retired.length) html += '<div>' + esc(T.retired) + ': ' + esc(b.retired.join(', ')) + '</div>';
      html += '<div>' + esc(T.moved) + ': ' + b.moved.events.length + ' ' + esc(T.cases) + ', ' +
        b.moved.components.length + ' ' + esc(T.components) + '</div>';
    }
    if (b.grids) {
      // previewed grids do not exist yet: not selectable
      L.geoJSON(b.grids, {style: {color: '#ff7f00', weight: 3, dashArray: '6 4', fillOpacity: 0.1},
                          interactive: false}).addTo(preview);
    }
    $('cg-result').innerHTML = html;
    $('cg-submit').disabled = !(dryRun && res.status < 400 && b.valid);
  }
  function run(dryRun) {
    var pending = request(dryRun);
    if (!pending) return;
    $('cg-preview').disabled = $('cg-submit').disabled = true;
    pending.then(function (res) { show(res, dryRun); })
      .catch(function (e) { $('cg-result').innerHTML = '<p class="bad">' + esc(T.failed) + ': ' + esc(e) + '</p>'; })
      .then(function () { $('cg-preview').disabled = false; });
  }

  // Selecting grids: a click picks one, Shift/Ctrl/Cmd-click adds or removes.
  function pick(e) {
    var code = e.target.feature.properties.code, many = e.originalEvent &&
      (e.originalEvent.shiftKey || e.originalEvent.ctrlKey || e.originalEvent.metaKey);
    if (!many) {
      selected.slice().forEach(function (c) { if (c !== code) unmark(c); });
      selected = selected.filter(function (c) { return c === code; });
    }
    if (selected.indexOf(code) >= 0) { unmark(code); selected.splice(selected.indexOf(code), 1); }
    else { selected.push(code); mark(code); }
    refresh();
  }
  function hook(layer) {
    var code = layer.feature && layer.feature.properties && layer.feature.properties.code;
    if (code && !layer._cgHooked) {
      layer._cgHooked = true;
      (byCode[code] = byCode[code] || []).push(layer);
      layer.on('click', pick);
    }
  }
  function mark(code) {
    (byCode[code] || []).forEach(function (l) {
      if (!styles[L.stamp(l)]) styles[L.stamp(l)] = {color: l.options.color, weight: l.options.weight};
      l.setStyle({color: '#e31a1c', weight: 3});
      if (l.bringToFront) l.bringToFront();
    });
  }
  function unmark(code) {
    (byCode[code] || []).forEach(function (l) { if (styles[L.stamp(l)]) l.setStyle(styles[L.stamp(l)]); });
  }

  map.eachLayer(hook);
  map.on('layeradd', function (e) { hook(e.layer); });
  map.on(L.Draw.Event.CREATED, function (e) {
    drawn.clearLayers();
    drawn.addLayer(e.layer);
    shape = e.layer.toGeoJSON();
    refresh();
  });
  map.on(L.Draw.Event.EDITED, function () {
    var layers = drawn.getLayers();
    shape = layers.length ? layers[layers.length - 1].toGeoJSON() : null;
    refresh();
  });
  map.on(L.Draw.Event.DELETED, function () { shape = null; refresh(); });
  $('cg-preview').onclick = function () { run(true); };
  $('cg-submit').onclick = function () { run(false); };
  $('cg-clear').onclick = function () {
    drawn.clearLayers(); shape = null;
    selected.forEach(unmark); selected = [];
    refresh();
  };
  refresh();
})();
