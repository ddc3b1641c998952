// The path page's map: hop markers joined in TTL order on a Leaflet map. Tiles come only
// from the server's configured ui.map_tile_url (data-tile-url); without one the map is
// blank and nothing is requested from anywhere but this server.
(function () {
  'use strict';
  const el = document.getElementById('path-map');
  if (!el || typeof L === 'undefined') return;
  let markers;
  try { markers = JSON.parse(el.dataset.markers || '[]'); } catch (e) { return; }
  if (!markers.length) return;
  const map = L.map(el, { attributionControl: !!el.dataset.tileUrl, worldCopyJump: true });
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, {
      maxZoom: 18,
      attribution: el.dataset.tileAttribution || '',
    }).addTo(map);
  } else {
    el.classList.add('path-map-blank');
  }
  const points = [];
  for (const m of markers) {
    const ll = [m.lat, m.lon];
    points.push(ll);
    L.circleMarker(ll, { radius: 6, weight: 2 })
      .bindTooltip(m.label, { permanent: !el.dataset.tileUrl, direction: 'right' })
      .addTo(map);
  }
  if (points.length > 1) L.polyline(points, { weight: 2, dashArray: '4 4' }).addTo(map);
  map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 8 });
})();
