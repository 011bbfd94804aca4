;;; scenario.el --- drive phiml-lint from a real Emacs + eglot, headless  -*- lexical-binding: t -*-

;; emacs --batch -Q -l tests/editors/emacs/scenario.el
;;
;; Emacs 28.2 with eglot 1.9 (Debian's emacs-nox and elpa-eglot; newer eglots work too).
;;
;; 1. load the user configuration PHIML_CONFIG (the snippet of docs/editors/emacs.md, verbatim:
;;    an `eglot-server-programs' entry for python-mode and `eglot-ensure' on `python-mode-hook';
;;    `phiml-lint' is found on PATH) and visit PHIML_FILE in a displayed buffer (Flymake only
;;    runs there), finishing the command so that `eglot-ensure' connects;
;; 2. wait for the Flymake diagnostics eglot makes of our publishDiagnostics and find
;;    "[PHIML_CODE]" on PHIML_LINE;
;; 3. with point on it, M-x eglot-code-actions (the interactive path: it asks the server, then
;;    applies the chosen action's edit; its `completing-read' is answered with the action whose
;;    title contains PHIML_ACTION);
;; 4. save, check the file on disk contains PHIML_EXPECT_TEXT (if given), and wait for the
;;    server's publication for the buffer's new version, which must not have the diagnostic.
;; Any failed expectation exits with status 1 and a line starting `FAIL:'.
;;
;; Inputs (environment): PHIML_CONFIG, PHIML_FILE, PHIML_CODE, PHIML_LINE (1-based),
;; PHIML_ACTION, PHIML_EXPECT_TEXT (optional), PHIML_TIMEOUT_MS (each wait; default 20000).
;; Synchronisation is by condition only (`accept-process-output' loops with a deadline).

;;; Code:

(require 'cl-lib)
(require 'package)

(defvar phiml-started (float-time))

(defun phiml-log (fmt &rest args)
  (princ (format "[emacs %6.2fs] %s\n" (- (float-time) phiml-started) (apply #'format fmt args))
         #'external-debugging-output))

(defun phiml-fail (fmt &rest args)
  (phiml-log "FAIL: %s" (apply #'format fmt args))
  (kill-emacs 1))

(defun phiml-env (name &optional default)
  (let ((value (getenv name)))
    (cond ((and value (not (string-empty-p value))) value)
          (default default)
          (t (phiml-fail "environment variable %s is not set" name)))))

;; Debian installs elpa-eglot under /usr/share/emacs/site-lisp/elpa; -Q does not look there.
(setq package-directory-list
      (append '("/usr/share/emacs/site-lisp/elpa" "/usr/share/emacs/site-lisp/elpa-src")
              package-directory-list))
(package-initialize)
(require 'eglot)
(require 'flymake)
(require 'python)

(defvar phiml-timeout (/ (string-to-number (phiml-env "PHIML_TIMEOUT_MS" "20000")) 1000.0))

(defun phiml-wait (what predicate)
  "Process events until PREDICATE is non-nil or the deadline passes; fail naming WHAT then."
  (let ((deadline (+ (float-time) phiml-timeout)) result)
    (while (and (not (setq result (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.02))
    (or result (phiml-fail "timed out after %.0f s waiting for %s" phiml-timeout what))))

(defun phiml-describe (diags)
  (mapconcat (lambda (d) (format "%S@%d" (flymake-diagnostic-text d)
                                 (line-number-at-pos (flymake-diagnostic-beg d))))
             diags ", "))

(defun phiml-our-diagnostics ()
  (cl-remove-if-not (lambda (d) (eq (flymake-diagnostic-backend d) 'eglot-flymake-backend))
                    (flymake-diagnostics)))

(defvar phiml-latest nil
  "The latest publishDiagnostics for the scenario's file: (VERSION . DIAGNOSTICS).")

(defun phiml-record-publication (_server method &rest params)
  "Before eglot handles a notification: remember our file's latest diagnostics and their version."
  (when (and (eq method 'textDocument/publishDiagnostics)
             (equal (file-truename (eglot--uri-to-path (plist-get params :uri)))
                    (file-truename (getenv "PHIML_FILE"))))
    (setq phiml-latest (cons (plist-get params :version) (plist-get params :diagnostics)))))

(advice-add 'eglot-handle-notification :before #'phiml-record-publication)

(defun phiml-main ()
  (let* ((file (expand-file-name (phiml-env "PHIML_FILE")))
         (code (phiml-env "PHIML_CODE"))
         (line (string-to-number (phiml-env "PHIML_LINE")))
         (wanted (phiml-env "PHIML_ACTION"))
         (expect-text (getenv "PHIML_EXPECT_TEXT"))
         (tag (format "[%s]" code)))
    (load (phiml-env "PHIML_CONFIG") nil t) ; the user's configuration, as in init.el
    (let ((buffer (find-file-noselect file)))
      (switch-to-buffer buffer) ; flymake only runs in a displayed buffer
      (phiml-log "opened %s in %s (Emacs %s, eglot %s)" file major-mode emacs-version
                 (if-let ((desc (cadr (assq 'eglot package-alist))))
                     (package-version-join (package-desc-version desc)) "?"))
      ;; eglot-ensure connects from post-command-hook, i.e. once the command that visited the
      ;; file is finished; in batch mode there is no command loop, so finish "the command" here.
      (run-hooks 'post-command-hook)
      (phiml-wait "eglot to manage the buffer"
                  (lambda () (and (bound-and-true-p eglot--managed-mode) (eglot-current-server))))
      (phiml-log "eglot connected: %s %S" (eglot--project-nickname (eglot-current-server))
                 (process-command (jsonrpc--process (eglot-current-server))))
      (flymake-start)
      ;; 1. Wait for the first non-empty set of our diagnostics. Each publication is the complete
      ;; result of one analysis of the current text, so the expectation is then checked once (a
      ;; negative scenario fails as soon as the real diagnostics are known, not on a timeout).
      (phiml-wait "diagnostics" #'phiml-our-diagnostics)
      (let* ((all (phiml-our-diagnostics))
             (target (cl-find-if (lambda (d)
                                   (and (string-match-p (regexp-quote tag) (flymake-diagnostic-text d))
                                        (= (line-number-at-pos (flymake-diagnostic-beg d)) line)))
                                 all)))
        (phiml-log "diagnostics: %s" (phiml-describe all))
        (unless target
          (phiml-fail "expected %s on line %d, got %s" code line (phiml-describe all)))
        ;; 2. M-x eglot-code-actions with point on the diagnostic, as a user would.
        (goto-char (flymake-diagnostic-beg target))
        (let* ((titles nil)
               (chosen nil)
               (last-nonmenu-event ?\r) ; invoked from the keyboard (M-x ... RET), not a mouse menu
               (current-prefix-arg nil))
          (cl-letf (((symbol-function 'completing-read)
                     (lambda (_prompt collection &rest _)
                       (setq titles (mapcar #'car collection))
                       (setq chosen (cl-find-if (lambda (title) (string-match-p (regexp-quote wanted) title))
                                                titles))
                       (phiml-log "code actions: %S" titles)
                       (or chosen (phiml-fail "no code action titled like %S" wanted)))))
            (call-interactively #'eglot-code-actions))
          (unless chosen
            ;; eglot picks without asking only when there is a single action of a requested kind
            (phiml-fail "eglot-code-actions did not offer a choice (titles %S)" titles))
          (phiml-log "applied %S" chosen))
        ;; 3. Save and check the file on disk.
        (save-buffer)
        (when (and expect-text (not (string-empty-p expect-text)))
          (let ((saved (with-temp-buffer
                         (let ((coding-system-for-read 'utf-8))
                           (insert-file-contents file))
                         (buffer-string))))
            (unless (string-search expect-text saved)
              (phiml-fail "the saved file does not contain %S:\n%s" expect-text saved))))
        ;; 4. The server re-analyses the edited text: wait for its publication for the buffer's
        ;; current version (Flymake's overlays only move with the text until then), which must no
        ;; longer have the diagnostic on its line.
        (let ((version eglot--versioned-identifier))
          (phiml-wait (format "diagnostics for version %s" version)
                      (lambda () (equal (car phiml-latest) version)))
          (cl-loop for d across (cdr phiml-latest)
                   when (and (equal (plist-get d :code) code)
                             (= (plist-get (plist-get (plist-get d :range) :start) :line) (1- line)))
                   do (phiml-fail "%s is still reported on line %d after the fix (version %s)"
                                  code line version))
          (phiml-log "OK: %s gone from line %d in the diagnostics of version %s" code line version))
        (let ((server (eglot-current-server)))
          (eglot-shutdown server)
          (phiml-log "server stopped: %s" (not (jsonrpc-running-p server))))
        (kill-emacs 0)))))

(condition-case err
    (phiml-main)
  (error (phiml-fail "error: %s" (error-message-string err))))

;;; scenario.el ends here
