// The platelab page: send one photo to v1/read, then draw the plates, list them and show the JSON.
// URLs are relative so the page also works when a proxy serves it under a path prefix.
"use strict";

const KEY_STORAGE = "platelab-api-key";
const OUTLINE = "#00e676";
// The server answers within PLATELAB_RECEIVE_TIMEOUT (60 s by default) for a slow upload plus PLATELAB_TIMEOUT (10 s)
// for the read; past both and a margin, no answer will come. One deadline for the photo, its 503 retries included.
const TIMEOUT_S = 75;
// A 503 means the server is full for now and says when to come back (Retry-After); a few tries ride out a burst.
const BUSY_RETRIES = 2;
const MAX_RETRY_WAIT_S = 10;
// Canvas labels are sized for the photo as shown, so they stay readable on a phone and small on a desktop.
const LABEL_CSS_PX = 15;
const LINE_CSS_PX = 2.5;

const elements = {
  input: document.getElementById("photo"),
  dropZone: document.getElementById("drop-zone"),
  keyForm: document.getElementById("key-form"),
  keyInput: document.getElementById("key-input"),
  keyError: document.getElementById("key-error"),
  forgetKey: document.getElementById("forget-key"),
  status: document.getElementById("status"),
  busy: document.getElementById("busy"),
  cancel: document.getElementById("cancel"),
  results: document.getElementById("results"),
  canvas: document.getElementById("preview"),
  fitsHeader: document.getElementById("fits-header"),
  wantedHeader: document.getElementById("wanted-header"),
  tableBody: document.querySelector("#plates tbody"),
  json: document.getElementById("json"),
  copy: document.getElementById("copy-json"),
  copyStatus: document.getElementById("copy-status"),
};

// The photo waiting for an API key ({ file, note }), sent again once the user gives one.
let pendingPhoto = null;
// Each photo sent is numbered; an answer to any but the latest is dropped, so a slow one never shows over a newer.
let latestRequest = 0;
// The photo being read ({ controller, name }): a newer photo, Cancel or the timeout abort it.
let reading = null;
// The photo and plates drawn, to draw again at the new size when the window changes.
let drawn = null;

function showStatus(message, isError = false) {
  elements.status.textContent = message;
  elements.status.classList.toggle("error", isError);
}

// The key lives in memory and, where the browser allows, in sessionStorage so a reload keeps it.
let apiKey = loadKey();
elements.forgetKey.hidden = !apiKey;

function loadKey() {
  try {
    const key = sessionStorage.getItem(KEY_STORAGE);
    return key && !keyProblem(key) ? key : null; // one saved before keys were checked would break every request
  } catch {
    return null;
  }
}

function saveKey(key) {
  apiKey = key;
  elements.forgetKey.hidden = !key;
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key still lasts until the page is closed
  }
}

// Keys are printable ASCII on the server, and fetch throws on a header with a character past U+00FF: a phone's
// autocorrect turning ' into ’ would otherwise break every later request.
function keyProblem(key) {
  const bad = Array.from(key).find((char) => char < " " || char > "~");
  return bad === undefined ? null : `A key holds only printable ASCII (letters, digits, punctuation); ` +
    `“${bad}” (U+${bad.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}) is not. ` +
    "Autocorrect may have changed a character.";
}

function authHeaders() {
  return apiKey ? { "X-API-Key": apiKey } : {};
}

function setBusy(busy) {
  elements.busy.hidden = !busy;
  elements.cancel.hidden = !busy;
}

// Drops the photo being read, if any: its request is aborted, and whatever of it still comes is not shown.
function stopReading() {
  reading?.controller.abort();
  latestRequest++; // an answer or a drawing still to come is dropped
  reading = null;
  setBusy(false);
}

function hideResults() {
  elements.results.hidden = true; // the last photo's results are not this one's
  elements.canvas.hidden = true; // shown again once this photo is drawn
  drawn = null;
}

async function readPhoto(file, note = "") {
  reading?.controller.abort();
  const request = ++latestRequest;
  const controller = new AbortController();
  const name = file.name || "photo";
  reading = { controller, name };
  hideResults();
  setBusy(true);
  showStatus(`Reading ${name}…`);
  try {
    const { response, data, sentKey } = await postPhoto(file, name, controller);
    if (request !== latestRequest) return;
    if (response.status === 401) {
      askForKey(file, Boolean(sentKey), note);
      return;
    }
    if (!response.ok) {
      // the server names the file in image errors; its other errors (413, 503, 504...) do not
      showStatus((data.error || `${name}: ${data.detail || `HTTP ${response.status}`}`) + note, true);
      return;
    }
    await showResult(file, data, request, note);
  } catch (error) {
    if (request !== latestRequest) return;
    const timedOut = controller.signal.reason === "timeout";
    showStatus((timedOut ? `${name}: no answer from the server within ${TIMEOUT_S} s.`
      : `${name}: could not reach the server (${error.message || error}).`) + note, true);
  } finally {
    if (request === latestRequest) {
      setBusy(false);
      reading = null;
    }
  }
}

// POSTs the photo, trying again after a 503 as its Retry-After says; throws when aborted, past the deadline (one for
// all the attempts and the waits between them) or when the network fails.
async function postPhoto(file, name, controller) {
  const signal = controller.signal;
  const timer = setTimeout(() => controller.abort("timeout"), TIMEOUT_S * 1000);
  try {
    for (let attempt = 0; ; attempt++) {
      const form = new FormData();
      form.append("image", file, file.name || "photo.jpg");
      const sentKey = apiKey;
      const response = await fetch("v1/read", { method: "POST", body: form, headers: authHeaders(), signal });
      const data = (await response.json().catch(() => null)) || { detail: `HTTP ${response.status}` };
      signal.throwIfAborted(); // json() failing on an abort is not a body without JSON
      if (response.status !== 503 || attempt === BUSY_RETRIES) {
        if (response.status === 503 && attempt) data.detail += ` (tried ${attempt + 1} times)`;
        return { response, data, sentKey };
      }
      const wait = Math.min(Number(response.headers.get("Retry-After")) || 1, MAX_RETRY_WAIT_S);
      showStatus(`${name}: the server is busy; trying again in ${wait} s (${attempt + 1} of ${BUSY_RETRIES})…`);
      await pause(wait, signal);
    }
  } finally {
    clearTimeout(timer);
  }
}

// Waits the seconds given, or rejects as soon as the signal aborts; either way it leaves no listener on the signal.
function pause(seconds, signal) {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", aborted);
      resolve();
    }, seconds * 1000);
    signal.addEventListener("abort", aborted, { once: true });
  });
}

function askForKey(file, refused, note = "") {
  pendingPhoto = { file, note };
  saveKey(null);
  elements.keyForm.hidden = false;
  elements.keyInput.value = "";
  showKeyError(null);
  elements.keyInput.focus();
  showStatus(refused ? "The server refused that API key. Enter the right one." : "This server needs an API key.",
    true);
}

function showKeyError(message) {
  elements.keyError.textContent = message || "";
  elements.keyError.hidden = !message;
  if (message) elements.keyInput.setAttribute("aria-invalid", "true"); // a bare attribute would mean false
  else elements.keyInput.removeAttribute("aria-invalid");
}

async function showResult(file, data, request, note) {
  const plates = data.plates || [];
  showStatus((plates.length ? `${plates.length} plate(s) found.` : "No plate found.") + note);
  fillTable(plates);
  elements.json.textContent = JSON.stringify(data, null, 2);
  elements.results.hidden = false;
  await drawPhoto(file, plates, request);
}

function fillTable(plates) {
  // each column is there only when the server reads under a prior or has a watch list and marks a plate on it
  const hasFits = plates.some((plate) => "fits" in plate);
  const hasWanted = plates.some((plate) => "wanted" in plate);
  elements.fitsHeader.hidden = !hasFits;
  elements.wantedHeader.hidden = !hasWanted;
  elements.tableBody.replaceChildren(
    ...plates.map((plate, index) => {
      const row = document.createElement("tr");
      const cells = [String(index + 1), plate.text, percent(plate.confidence), plate.box.join(", ")];
      if (hasFits) cells.push(plate.fits ?? "");
      const wantedColumn = cells.length;
      if (hasWanted) cells.push(plate.wanted ?? "");
      cells.forEach((value, column) => {
        const cell = document.createElement("td");
        cell.textContent = value;
        if (column === 1 || (column === wantedColumn && value)) cell.className = "plate";
        row.append(cell);
      });
      return row;
    }),
  );
}

function percent(confidence) {
  return `${(100 * confidence).toFixed(1)} %`;
}

async function drawPhoto(file, plates, request) {
  const url = URL.createObjectURL(file);
  try {
    const image = new Image();
    image.src = url;
    await image.decode(); // browsers apply EXIF orientation, as the server does, so the boxes line up
    if (request !== latestRequest) return; // a newer photo came while this one decoded
    drawn = { image, plates };
    draw();
  } catch {
    // a format the browser cannot show (e.g. TIFF): the table still has it all
    if (request === latestRequest) elements.canvas.hidden = true;
  } finally {
    URL.revokeObjectURL(url);
  }
}

function draw() {
  const { image, plates } = drawn;
  const canvas = elements.canvas;
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  canvas.hidden = false; // shown before drawing, to measure the size it is shown at
  const cssPerPixel = canvas.getBoundingClientRect().width / canvas.width || 1;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  context.lineWidth = LINE_CSS_PX / cssPerPixel;
  plates.forEach((plate) => outlinePlate(context, plate));
  const labelHeight = (LABEL_CSS_PX * 1.4) / cssPerPixel;
  context.font = `bold ${Math.round(LABEL_CSS_PX / cssPerPixel)}px system-ui, sans-serif`;
  context.textBaseline = "middle";
  plates.forEach((plate, index) => {
    const others = plates.filter((_, other) => other !== index).map((other) => other.box);
    labelPlate(context, plate, labelHeight, others);
  });
}

function outlinePlate(context, plate) {
  context.strokeStyle = OUTLINE;
  context.beginPath();
  plate.quad.forEach(([x, y], index) => (index ? context.lineTo(x, y) : context.moveTo(x, y)));
  context.closePath();
  context.stroke();
}

function labelPlate(context, plate, height, others) {
  const label = `${plate.text} ${percent(plate.confidence)}`;
  const padding = height * 0.2;
  const width = context.measureText(label).width + 2 * padding;
  const place = placeLabel(plate.box, width, height, others, context.canvas);
  context.fillStyle = OUTLINE;
  context.fillRect(place.x, place.y, width, height);
  context.fillStyle = "#000";
  context.fillText(label, place.x + padding, place.y + height / 2);
}

// Where a label goes: above its plate, else below it, inside the canvas and over no other plate where one of those
// allows; a plate as tall as the photo leaves neither, and its label goes over its own top edge.
function placeLabel([x, y, w, h], width, height, others, canvas) {
  const left = Math.max(0, Math.min(x, canvas.width - width));
  const places = [y - height, y + h]
    .filter((top) => top >= 0 && top + height <= canvas.height)
    .map((top) => ({ x: left, y: top }));
  const overPlate = (place) => others.some(([ox, oy, ow, oh]) =>
    place.x < ox + ow && ox < place.x + width && place.y < oy + oh && oy < place.y + height);
  return places.find((place) => !overPlate(place)) || places[0] ||
    { x: left, y: Math.max(0, Math.min(y, canvas.height - height)) };
}

async function copyJson() {
  const text = elements.json.textContent;
  let copied;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    copied = copyWithSelection(text); // the clipboard API needs https or localhost
  }
  if (!copied) getSelection().selectAllChildren(elements.json); // left selected, for the user to copy
  elements.copyStatus.textContent = copied ? "Copied." : "Could not copy: the JSON is selected, copy it from there.";
  setTimeout(() => (elements.copyStatus.textContent = ""), 4000);
}

function copyWithSelection(text) {
  const area = document.createElement("textarea");
  area.value = text;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    // copied stays false
  }
  area.remove();
  return copied;
}

// An image type, or none: a browser knows no type for some image files (.jfif, .heic on some systems), and the
// server reads them by their content.
function mayBeImage(file) {
  return file.type === "" || file.type.startsWith("image/");
}

function readFiles(files) {
  const all = Array.from(files || []);
  const file = all.find(mayBeImage);
  if (!file) {
    stopReading(); // the photo being read would otherwise show its results over this refusal
    hideResults();
    const names = all.map((each) => each.name).join(", ");
    showStatus(`${names || "That"}: not an image file.`, true);
    return;
  }
  // the page shows one photo at a time; several are read at once through the API (v1/read/batch)
  const note = all.length > 1 ? ` Only ${file.name} was read, of the ${all.length} files dropped.` : "";
  readPhoto(file, note);
}

elements.input.addEventListener("change", () => {
  const file = elements.input.files[0];
  elements.input.value = ""; // so that choosing the same file again, to retry, is a change too
  if (file) readPhoto(file);
});

function carriesFiles(event) {
  return Boolean(event.dataTransfer) && Array.from(event.dataTransfer.types).includes("Files");
}

// A file dropped anywhere on the page is read: left to the browser, a drop outside the zone would open the file in
// place of the page.
document.addEventListener("dragover", (event) => {
  if (!carriesFiles(event)) return; // text dragged into a field is the browser's to handle
  event.preventDefault();
  elements.dropZone.classList.add("dragging");
});
document.addEventListener("dragleave", (event) => {
  if (!event.relatedTarget) elements.dropZone.classList.remove("dragging"); // left the window
});
document.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  elements.dropZone.classList.remove("dragging");
  readFiles(event.dataTransfer.files);
});

document.addEventListener("paste", (event) => {
  const file = Array.from((event.clipboardData && event.clipboardData.files) || []).find(mayBeImage);
  if (file) readPhoto(file);
});

elements.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = elements.keyInput.value.trim(); // as the browser would send it, and as the server keeps its own
  const problem = keyProblem(key);
  if (problem) {
    showKeyError(problem);
    elements.keyInput.focus();
    return;
  }
  showKeyError(null);
  saveKey(key);
  elements.keyInput.value = "";
  elements.keyForm.hidden = true;
  elements.status.focus(); // the form had focus; the status is where the photo's answer will be told
  const photo = pendingPhoto;
  pendingPhoto = null;
  if (photo) readPhoto(photo.file, photo.note);
});

elements.forgetKey.addEventListener("click", () => {
  saveKey(null);
  elements.status.focus(); // the button just hid itself
  showStatus("The API key is forgotten; the page asks for it at the next photo.");
});

elements.cancel.addEventListener("click", () => {
  if (!reading) return;
  const { name } = reading;
  stopReading();
  hideResults();
  showStatus(`Stopped reading ${name}.`);
  elements.status.focus(); // the button hid itself
});

let redraw = 0;
window.addEventListener("resize", () => {
  cancelAnimationFrame(redraw);
  redraw = requestAnimationFrame(() => drawn && draw());
});

elements.copy.addEventListener("click", copyJson);
