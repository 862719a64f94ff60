"""The planner map's grid editor: Leaflet.draw tools plus a panel that previews an edit
through the grid-edit API (``?dry_run=true``) and submits it.

A planner clicks grids to select them (Shift/Ctrl-click adds) and draws a line or polygon;
the panel offers the edits that fit (split along the line, reshape to the polygon, create a
grid from the polygon, merge the selection), previews the verdict of the topology rules
with the offending geometry drawn in red and the new grids dashed, then submits. Requests
carry the page session's CSRF secret. Pure folium/JS: the API paths are parameters.
"""

from __future__ import annotations

import json

from gis.maps._base import MapOptions

TEXT = {
    "zh": {
        "heading": "网格编辑",
        "help": "点击网格选中（Shift 多选），再用左侧工具画切分线或新边界。",
        "selected": "已选网格",
        "none": "无",
        "drawn": "所画图形",
        "line": "线",
        "polygon": "面",
        "split": "沿所画线拆分",
        "reshape": "按所画面调整边界",
        "create": "按所画面新建网格",
        "merge": "合并所选网格",
        "note": "备注（写入编辑记录）",
        "preview": "预览（不保存）",
        "submit": "提交",
        "clear": "清除",
        "valid": "✓ 符合拓扑规则，可以提交",
        "invalid": "✗ 违反规则",
        "warnings": "提示",
        "new_grids": "新网格",
        "retired": "撤销",
        "moved": "随之调整",
        "cases": "件案件",
        "components": "个部件",
        "saved": "已保存，编辑号",
        "reloading": "正在刷新地图…",
        "nothing": "请先选中网格或画出图形",
        "failed": "失败",
        "m2": "平方米",
    },
    "en": {
        "heading": "Grid editor",
        "help": "Click grids to select (Shift-click adds), then draw a "
        "split line or a new boundary with the tools on the left.",
        "selected": "Selected",
        "none": "none",
        "drawn": "Drawn",
        "line": "line",
        "polygon": "polygon",
        "split": "Split along the line",
        "reshape": "Reshape to the polygon",
        "create": "Create a grid from the polygon",
        "merge": "Merge the selected grids",
        "note": "Note (kept in the edit log)",
        "preview": "Preview (nothing saved)",
        "submit": "Submit",
        "clear": "Clear",
        "valid": "✓ Passes the topology rules",
        "invalid": "✗ Breaks the rules",
        "warnings": "Warnings",
        "new_grids": "New grids",
        "retired": "Retired",
        "moved": "Moves",
        "cases": "cases",
        "components": "components",
        "saved": "Saved, edit",
        "reloading": "Reloading the map…",
        "nothing": "Select grids or draw a shape first",
        "failed": "Failed",
        "m2": "m²",
    },
}

# Leaflet.draw's own labels in Chinese (it reads L.drawLocal when its control is built).
DRAW_LOCAL_ZH = {
    "draw": {
        "toolbar": {
            "actions": {"title": "取消绘制", "text": "取消"},
            "finish": {"title": "完成绘制", "text": "完成"},
            "undo": {"title": "删除最后一点", "text": "删除最后一点"},
            "buttons": {"polyline": "画切分线", "polygon": "画新边界"},
        },
        "handlers": {
            "polyline": {
                "error": "<strong>错误：</strong>边线不能自相交！",
                "tooltip": {
                    "start": "点击开始画线",
                    "cont": "点击继续画线",
                    "end": "点击最后一点结束",
                },
            },
            "polygon": {
                "tooltip": {
                    "start": "点击开始画边界",
                    "cont": "点击继续画边界",
                    "end": "点击第一点闭合",
                }
            },
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": "保存修改", "text": "保存"},
                "cancel": {"title": "取消修改", "text": "取消"},
                "clearAll": {"title": "清除全部图形", "text": "全部清除"},
            },
            "buttons": {
                "edit": "修改所画图形",
                "editDisabled": "没有可修改的图形",
                "remove": "删除所画图形",
                "removeDisabled": "没有可删除的图形",
            },
        },
        "handlers": {
            "edit": {"tooltip": {"text": "拖动顶点修改图形", "subtext": "点击取消撤销修改"}},
            "remove": {"tooltip": {"text": "点击图形删除"}},
        },
    },
}

PANEL_CSS = """
.cg-editor{background:#fff;padding:8px 10px;border-radius:4px;width:270px;max-height:70vh;
overflow:auto;box-shadow:0 1px 5px rgba(0,0,0,.35);font:13px/1.45 system-ui,'Noto Sans CJK SC',
sans-serif}.cg-editor h3{margin:0 0 4px;font-size:14px}.cg-editor .help{color:#555;margin:0 0 6px}
.cg-editor label{display:block;margin:2px 0}.cg-editor input[type=text]{width:100%;box-sizing:
border-box;margin:4px 0}.cg-editor button{margin:4px 4px 0 0;padding:3px 8px}
.cg-editor .ok{color:#1a7f37;font-weight:600}.cg-editor .bad{color:#b42318;font-weight:600}
.cg-editor ul{margin:2px 0 4px;padding-left:18px}
"""

SCRIPT = """
(function () {
  var map = %(map)s, drawn = %(drawn)s, api = %(api)s, csrf = %(csrf)s, T = %(text)s;
  var selected = [], shape = null, preview = null, styles = {};
  var panel = L.control({position: 'topright'});
  panel.onAdd = function () {
    var d = L.DomUtil.create('div', 'cg-editor');
    d.id = 'cg-editor';
    d.innerHTML = '<h3>' + T.heading + '</h3><p class="help">' + T.help + '</p>' +
      '<div>' + T.selected + ': <b id="cg-selected">' + T.none + '</b></div>' +
      '<div>' + T.drawn + ': <b id="cg-drawn">' + T.none + '</b></div>' +
      '<div id="cg-actions"></div>' +
      '<input type="text" id="cg-note" maxlength="2000" placeholder="' + T.note + '">' +
      '<button id="cg-preview">' + T.preview + '</button>' +
      '<button id="cg-submit" disabled>' + T.submit + '</button>' +
      '<button id="cg-clear">' + T.clear + '</button><div id="cg-result"></div>';
    L.DomEvent.disableClickPropagation(d);
    L.DomEvent.disableScrollPropagation(d);
    return d;
  };
  panel.addTo(map);
  var $ = function (id) { return document.getElementById(id); };
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
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
    var list = actions();
    $('cg-actions').innerHTML = list.map(function (a, i) {
      return '<label><input type="radio" name="cg-action" value="' + a + '"' +
        (i === 0 ? ' checked' : '') + '> ' + T[a] + '</label>';
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
    if (!checked) { $('cg-result').innerHTML = '<p class="bad">' + T.nothing + '</p>'; return null; }
    var action = checked.value, note = $('cg-note').value || null, url, body;
    if (action === 'split') { url = api + '/' + selected[0] + '/split'; body = {line: shape.geometry}; }
    if (action === 'reshape') { url = api + '/' + selected[0] + '/reshape'; body = {geometry: shape.geometry}; }
    if (action === 'create') { url = api; body = {geometry: shape.geometry}; }
    if (action === 'merge') { url = api + '/merge'; body = {codes: selected.slice()}; }
    body.note = note;
    return fetch(url + (dryRun ? '?dry_run=true' : ''), {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf, 'Accept': 'application/json'},
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { return {status: r.status, body: j}; }); });
  }
  function show(res, dryRun) {
    clearPreview();
    var b = res.body, html = '';
    preview = L.featureGroup().addTo(map);
    if (res.status >= 400) {
      html += '<p class="bad">' + T.failed + ' (' + res.status + '): ' + esc(b.detail || b.title) + '</p>';
    } else if (!dryRun) {
      html += '<p class="ok">' + T.saved + ' ' + b.edit_id + '. ' + T.reloading + '</p>';
      setTimeout(function () { window.location.reload(); }, 1200);
    } else {
      html += b.valid ? '<p class="ok">' + T.valid + '</p>'
                      : '<p class="bad">' + T.invalid + ' (' + b.violations.length + ')</p>';
    }
    var violations = b.violations || [];
    if (violations.length) {
      html += '<ul>' + violations.map(function (v) { return '<li>' + esc(v[T.lang_key]) + '</li>'; }).join('') + '</ul>';
      violations.forEach(function (v) {
        if (v.geometry) L.geoJSON(v.geometry, {style: {color: '#d7191c', weight: 3, fillOpacity: 0.5}}).addTo(preview);
      });
    }
    if (b.warnings && b.warnings.length) {
      html += T.warnings + ':<ul>' + b.warnings.map(function (v) { return '<li>' + esc(v[T.lang_key]) + '</li>'; }).join('') + '</ul>';
    }
    if (b.started) {
      html += T.new_grids + ':<ul>' + b.started.map(function (s) {
        return '<li>' + s.code + ' · ' + Math.round(s.area_m2) + ' ' + T.m2 + '</li>';
      }).join('') + '</ul>';
      if (b.retired && b.retired.length) html += '<div>' + T.retired + ': ' + b.retired.join(', ') + '</div>';
      html += '<div>' + T.moved + ': ' + b.moved.events.length + ' ' + T.cases + ', ' +
        b.moved.components.length + ' ' + T.components + '</div>';
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
      .catch(function (e) { $('cg-result').innerHTML = '<p class="bad">' + T.failed + ': ' + esc(e) + '</p>'; })
      .then(function () { $('cg-preview').disabled = false; });
  }
  function pick(e) {
    var layer = e.target, code = layer.feature.properties.code, many = e.originalEvent &&
      (e.originalEvent.shiftKey || e.originalEvent.ctrlKey || e.originalEvent.metaKey);
    if (!many) { selected.slice().forEach(function (c) { if (c !== code) unmark(c); }); selected = selected.filter(function (c) { return c === code; }); }
    if (selected.indexOf(code) >= 0) { unmark(code); selected.splice(selected.indexOf(code), 1); }
    else { selected.push(code); mark(code); }
    refresh();
  }
  var byCode = {};
  function hook(layer) {
    if (layer.feature && layer.feature.properties && layer.feature.properties.code && !layer._cgHooked) {
      layer._cgHooked = true;
      (byCode[layer.feature.properties.code] = byCode[layer.feature.properties.code] || []).push(layer);
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
"""


def grid_editor(
    csrf: str,
    options: MapOptions = MapOptions(),
    *,
    api: str = "/api/v1/grids",
    draw_assets: dict[str, str] | None = None,
):
    """A hook for :func:`gis.maps.render.planner_map` adding the drawing tools and the edit panel.

    ``csrf``: the page session's CSRF secret, sent as ``X-CSRF-Token``; ``draw_assets``:
    ``js``/``css`` URLs of Leaflet.draw (None keeps folium's CDN links).
    """

    def add(m) -> None:
        import folium
        from branca.element import MacroElement
        from folium.plugins import Draw
        from jinja2 import Template

        text = dict(TEXT["en" if options.lang == "en" else "zh"])
        text["lang_key"] = "message_en" if options.lang == "en" else "message_zh"
        drawn = folium.FeatureGroup(name="drawn", control=False).add_to(m)
        draw = Draw(
            feature_group=drawn,
            show_geometry_on_click=False,
            draw_options={
                "polyline": {"shapeOptions": {"color": "#e31a1c", "weight": 4}},
                # showArea off: Leaflet.draw 1.0.4 throws "type is not defined" with it on
                # under Leaflet 1.9 (its readableArea uses an undeclared variable).
                "polygon": {
                    "allowIntersection": False,
                    "showArea": False,
                    "shapeOptions": {"color": "#e31a1c"},
                },
                "rectangle": False,
                "circle": False,
                "marker": False,
                "circlemarker": False,
            },
            edit_options={"edit": True, "remove": True},
        )
        if options.lang != "en":
            local = MacroElement()
            local._template = Template(
                "{% macro script(this, kwargs) %}(function merge(a, b) { for (var k in b) {"
                " if (typeof b[k] === 'object') merge(a[k] = a[k] || {}, b[k]); else a[k] = b[k];"
                " } })(L.drawLocal, {{ this.strings|tojson }});{% endmacro %}"
            )
            local.strings = DRAW_LOCAL_ZH  # type: ignore[attr-defined]  # branca template value
            m.add_child(local)
        if draw_assets:
            draw.default_js = [("leaflet_draw_js", draw_assets["js"])]
            draw.default_css = [("leaflet_draw_css", draw_assets["css"])]
        draw.add_to(m)
        m.get_root().header.add_child(folium.Element(f"<style>{PANEL_CSS}</style>"))
        panel = MacroElement()
        script = SCRIPT % {
            "map": m.get_name(),
            "drawn": drawn.get_name(),
            "api": json.dumps(api),
            "csrf": json.dumps(csrf),
            "text": json.dumps(text, ensure_ascii=False),
        }
        panel._template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")
        panel.code = script  # type: ignore[attr-defined]  # branca template value
        m.add_child(panel)

    return add
