// "Check a face" (the M-CCTNS face client): a patrol officer photographs a person with the phone's camera,
// states why, and sees the closest enrolled faces as compact cards, each with what its score is worth and
// the CRO records behind it. Nothing is raised or sent: the officer judges, and the search is audited.
import { fill, formValues, h, readAsDataUrl } from "../dom.js";
import { INVESTIGATIVE, showSearch } from "../faces.js";
import { keepReason, reasonField } from "../records.js";

const CANDIDATES = 10;

export function mountFaceCheck(container) {
  const photo = h("input", { type: "file", name: "photo", accept: "image/*", capture: "environment", required: true, id: "officer-face-photo" });
  const preview = h("img", { class: "probe", alt: "the photo taken", id: "officer-face-preview", hidden: true });
  photo.addEventListener("change", async () => {
    const [file] = photo.files;
    preview.hidden = !file;
    if (file) preview.src = await readAsDataUrl(file);
  });
  const form = h("form", { class: "filters", id: "officer-face-form" },
    h("label", { class: "camera-button" }, "Take or choose a photo", photo),
    preview,
    reasonField("officer-face-reason"),
    h("button", { type: "submit" }, "Check"));
  const message = h("p", { class: "message", id: "officer-face-message", role: "status" });
  const results = h("div", { id: "officer-face-results" });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { reason } = formValues(form);
    keepReason(reason);
    showSearch(photo.files[0], reason, { topK: CANDIDATES }, message, results, true);
  });
  fill(container, h("h2", {}, "Check a face"), h("p", { class: "investigative" }, INVESTIGATIVE), form, message, results);
}
