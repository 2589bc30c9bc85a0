"use strict";
// Routing rules list: drag a row by its ⠿ handle; the new order is saved at once (rules_reorder),
// then the page reloads to show the new positions. The ▲ ▼ buttons work without this script.
(function () {
    function ready(fn) {
        if (document.readyState !== "loading") {
            fn();
        } else {
            document.addEventListener("DOMContentLoaded", fn);
        }
    }

    function save(url, token, ids) {
        const body = new URLSearchParams();
        ids.forEach((id) => body.append("ids", id));
        return fetch(url, {
            method: "POST",
            credentials: "same-origin",
            headers: { "X-CSRFToken": token },
            body: body,
        }).then((response) => {
            if (!response.ok) {
                return response.json().then(
                    (data) => Promise.reject(new Error(data.message)),
                    () => Promise.reject(new Error("HTTP " + response.status)),
                );
            }
        });
    }

    ready(function () {
        const config = document.getElementById("rule-order-config");
        const table = document.getElementById("result_list");
        const tokenInput = document.querySelector("#changelist-form [name=csrfmiddlewaretoken]");
        if (!config || !table || !tokenInput || !table.tBodies.length) {
            return;
        }
        const rows = table.tBodies[0];
        let dragged = null;

        // Only the ⠿ handle is draggable, so the text of a row stays selectable; the row moves with it.
        rows.querySelectorAll(".rule-drag-handle").forEach((handle) => {
            const row = handle.closest("tr");
            handle.addEventListener("dragstart", (event) => {
                dragged = row;
                row.classList.add("rule-dragging");
                event.dataTransfer.effectAllowed = "move";
                event.dataTransfer.setData("text/plain", handle.parentElement.dataset.ruleId);
                event.dataTransfer.setDragImage(row, 0, 0);
            });
            handle.addEventListener("dragend", () => {
                row.classList.remove("rule-dragging");
                if (dragged) {
                    // Dropped outside the list: show the saved order again.
                    window.location.reload();
                }
            });
        });

        rows.addEventListener("dragover", (event) => {
            if (!dragged) {
                return;
            }
            event.preventDefault(); // the whole list accepts the drop
            const row = event.target.closest("tr");
            if (!row || row === dragged) {
                return;
            }
            const box = row.getBoundingClientRect();
            rows.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? row.nextSibling : row);
        });

        rows.addEventListener("drop", (event) => {
            if (!dragged) {
                return;
            }
            event.preventDefault();
            dragged = null;
            const ids = Array.from(rows.querySelectorAll(".rule-order")).map((el) => el.dataset.ruleId);
            save(config.dataset.reorderUrl, tokenInput.value, ids)
                .catch((error) => window.alert("The new order was not saved: " + error.message))
                .finally(() => window.location.reload());
        });
    });
})();
