-- Drive phiml-lint from a real Neovim, headless (Neovim 0.7.2 from Debian; 0.8+ and 0.11 too):
--
--   nvim --headless --clean -c 'luafile tests/editors/nvim/scenario.lua'
--
-- 1. run the user configuration PHIML_CONFIG (a snippet taken verbatim from
--    docs/editors/neovim.md; `phiml-lint` is found on PATH), open PHIML_FILE, and wait until
--    that configuration has attached a client to the buffer;
-- 2. wait for the server's diagnostics and find PHIML_CODE on PHIML_LINE;
-- 3. with the cursor on it, apply the code action whose title contains PHIML_ACTION:
--    - Neovim 0.7: exactly as its `vim.lsp.buf.code_action()` builds the request (range from
--      `make_range_params()`, context.diagnostics from `vim.lsp.diagnostic.get_line_diagnostics()`,
--      which on 0.7 carry *byte* columns as `character`), sent with `vim.lsp.buf_request_sync`;
--      resolved with `codeAction/resolve` when it has no edit (as 0.7's handler does), applied
--      with `vim.lsp.util.apply_workspace_edit(edit, client.offset_encoding)`;
--    - Neovim 0.8+: `vim.lsp.buf.code_action({ filter = ..., apply = true })` itself;
-- 4. `:write`, check the file on disk contains PHIML_EXPECT_TEXT (if given), and wait for the
--    server's publication for the buffer's new version, which must not have the diagnostic.
-- Any failed expectation ends Neovim with exit code 1 (`cquit 1`) and a line starting `FAIL:`.
--
-- Inputs (environment): PHIML_CONFIG, PHIML_FILE, PHIML_CODE, PHIML_LINE (1-based),
-- PHIML_ACTION, PHIML_EXPECT_TEXT (optional), PHIML_TIMEOUT_MS (each wait; default 20000).
-- Synchronisation is by condition only (vim.wait on a predicate, with a deadline): no sleeps.

local started = vim.loop.hrtime()

local function log(fmt, ...)
  local elapsed = (vim.loop.hrtime() - started) / 1e9
  io.stdout:write(string.format('[nvim %6.2fs] ' .. fmt, elapsed, ...) .. '\n')
  io.stdout:flush()
end

local function fail(fmt, ...)
  log('FAIL: ' .. fmt, ...)
  vim.cmd('cquit 1')
end

local function env(name, default)
  local value = os.getenv(name)
  if value == nil or value == '' then
    if default == nil then
      error('environment variable ' .. name .. ' is not set')
    end
    return default
  end
  return value
end

local function describe(diags)
  local parts = {}
  for _, d in ipairs(diags) do
    table.insert(parts, string.format('%s@%d:%d', tostring(d.code), d.lnum + 1, d.col))
  end
  return '[' .. table.concat(parts, ', ') .. ']'
end

local function clients_of(bufnr)
  if vim.lsp.get_clients then -- 0.10+
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  return vim.tbl_values(vim.lsp.buf_get_clients(bufnr))
end

-- Neovim 0.7: the request vim.lsp.buf.code_action() would send, synchronously; the chosen action.
local function code_action_07(bufnr, client, wanted_title, timeout)
  local params = vim.lsp.util.make_range_params()
  params.context = { diagnostics = vim.lsp.diagnostic.get_line_diagnostics(bufnr) }
  local sent = {}
  for _, d in ipairs(params.context.diagnostics) do
    table.insert(sent, string.format('%s@%d:%d', tostring(d.code), d.range.start.line, d.range.start.character))
  end
  -- the range is in UTF-16 units; the context diagnostics carry byte columns as `character`
  log('codeAction range %d:%d-%d:%d, context diagnostics [%s]', params.range.start.line,
    params.range.start.character, params.range['end'].line, params.range['end'].character,
    table.concat(sent, ', '))
  local responses, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', params, timeout)
  if responses == nil then
    return fail('textDocument/codeAction failed: %s', tostring(err))
  end
  local titles, chosen = {}, nil
  for id, response in pairs(responses) do
    if response.err then
      return fail('textDocument/codeAction error: %s', vim.inspect(response.err))
    end
    for _, action in ipairs(response.result or {}) do
      table.insert(titles, action.title)
      if chosen == nil and id == client.id and action.title:find(wanted_title, 1, true) then
        chosen = action
      end
    end
  end
  log('code actions: %s', vim.inspect(titles))
  if chosen == nil then
    return fail('no code action titled like %q', wanted_title)
  end
  local provider = (client.server_capabilities or {}).codeActionProvider
  if chosen.edit == nil and type(provider) == 'table' and provider.resolveProvider then
    local resolved = client.request_sync('codeAction/resolve', chosen, timeout, bufnr)
    if resolved == nil or resolved.err then
      return fail('codeAction/resolve failed: %s', vim.inspect(resolved))
    end
    log('resolved %q', chosen.title)
    chosen = resolved.result
  end
  if chosen.edit == nil then
    return fail('code action %q has no edit', chosen.title)
  end
  vim.lsp.util.apply_workspace_edit(chosen.edit, client.offset_encoding)
  return chosen.title
end

-- Neovim 0.8+: the user's command itself, told which action to take.
local function code_action_08(bufnr, wanted_title, timeout)
  local titles, chosen, notified = {}, nil, nil
  local notify = vim.notify
  vim.notify = function(msg, level, opts)
    notified = msg
    return notify(msg, level, opts)
  end
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  vim.lsp.buf.code_action({
    filter = function(action)
      table.insert(titles, action.title)
      if chosen == nil and action.title:find(wanted_title, 1, true) then
        chosen = action.title
        return true
      end
      return false
    end,
    apply = true,
  })
  local done = vim.wait(timeout, function()
    return notified ~= nil or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick
  end, 20)
  vim.notify = notify
  log('code actions: %s', vim.inspect(titles))
  if chosen == nil then
    return fail('no code action titled like %q (%s)', wanted_title, tostring(notified))
  end
  if not done or vim.api.nvim_buf_get_changedtick(bufnr) == tick then
    return fail('applying %q did not change the buffer (%s)', chosen, tostring(notified))
  end
  return chosen
end

local function main()
  local file = vim.fn.fnamemodify(env('PHIML_FILE'), ':p')
  local code = env('PHIML_CODE')
  local line = tonumber(env('PHIML_LINE'))
  local wanted_title = env('PHIML_ACTION')
  local timeout = tonumber(env('PHIML_TIMEOUT_MS', '20000'))
  local v = vim.version()
  local is_07 = vim.lsp.start == nil

  vim.g.loaded_python3_provider = 0 -- the python ftplugin would probe for pynvim (3 s); irrelevant here
  dofile(env('PHIML_CONFIG')) -- the user's configuration, as in init.lua

  -- Remember the latest diagnostics the server gave for the file, with their document version,
  -- then let Neovim's own handlers turn them into vim.diagnostic entries as usual. They come
  -- pushed (textDocument/publishDiagnostics; 0.7 and 0.8-0.10) or, from clients that support it
  -- (0.11), pulled (textDocument/diagnostic, re-requested after each change).
  local latest = nil
  local publish = vim.lsp.handlers['textDocument/publishDiagnostics']
  vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, result, ctx, cfg)
    if result and vim.uri_to_fname(result.uri) == file then
      latest = { version = result.version, diagnostics = result.diagnostics, how = 'pushed' }
    end
    return publish(err, result, ctx, cfg)
  end
  local pull = vim.lsp.handlers['textDocument/diagnostic']
  if pull then
    vim.lsp.handlers['textDocument/diagnostic'] = function(err, result, ctx, cfg)
      if result and ctx.params and vim.uri_to_fname(ctx.params.textDocument.uri) == file then
        local items = result.kind == 'unchanged' and latest and latest.diagnostics or result.items or {}
        latest = { version = ctx.version, diagnostics = items, how = 'pulled' }
      end
      return pull(err, result, ctx, cfg)
    end
  end

  vim.cmd('edit ' .. vim.fn.fnameescape(file)) -- FileType python: the configuration starts the client
  local bufnr = vim.api.nvim_get_current_buf()
  local client
  vim.wait(timeout, function()
    client = clients_of(bufnr)[1]
    return client ~= nil
  end, 20)
  if client == nil then
    return fail('the configuration attached no client to %s (filetype %q)', file, vim.bo[bufnr].filetype)
  end
  log('Neovim %d.%d.%d: client %q (id %d) attached to %s', v.major, v.minor, v.patch, client.name,
    client.id, file)
  local namespaces = { [vim.lsp.diagnostic.get_namespace(client.id)] = true }
  if not is_07 then -- 0.10+: pulled diagnostics have their own namespace
    namespaces[vim.lsp.diagnostic.get_namespace(client.id, true)] = true
  end
  local function ours()
    local out = {}
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if namespaces[d.namespace] then
        table.insert(out, d)
      end
    end
    return out
  end

  -- 1. Wait for the server's first non-empty diagnostics for this buffer. Each publication is the
  -- complete result of one analysis of the current text, so the expectation is then checked
  -- once (a negative scenario fails as soon as the real diagnostics are known, not on a timeout).
  local published = vim.wait(timeout, function()
    return #ours() > 0
  end, 20)
  if not published then
    return fail('no diagnostics within %d ms', timeout)
  end
  local all = ours()
  log('diagnostics (line:byte column, %s, position encoding %s): %s', latest and latest.how or '?',
    tostring(client.offset_encoding), describe(all))
  local target
  for _, d in ipairs(all) do
    if d.code == code and d.lnum == line - 1 then
      target = d
      break
    end
  end
  if target == nil then
    return fail('expected %s on line %d, got %s', code, line, describe(all))
  end

  -- 2. The code action, with the cursor on the diagnostic.
  vim.api.nvim_win_set_cursor(0, { target.lnum + 1, target.col })
  local applied
  if is_07 then
    applied = code_action_07(bufnr, client, wanted_title, timeout)
  else
    applied = code_action_08(bufnr, wanted_title, timeout)
  end
  if applied == nil then
    return
  end
  log('applied %q (offset encoding %s)', applied, tostring(client.offset_encoding))

  -- 3. Save; check the file on disk.
  vim.cmd('silent write')
  local expect_text = os.getenv('PHIML_EXPECT_TEXT')
  if expect_text ~= nil and expect_text ~= '' then
    local handle = assert(io.open(file, 'rb'))
    local saved = handle:read('*a')
    handle:close()
    if not saved:find(expect_text, 1, true) then
      return fail('the saved file does not contain %q:\n%s', expect_text, saved)
    end
  end

  -- 4. The server re-analyses the edited text: wait for its diagnostics for the buffer's current
  -- version (Neovim's stored diagnostics keep their old lines until then), which must no longer
  -- have the diagnostic on its line.
  local version = vim.lsp.util.buf_versions[bufnr]
  local republished = vim.wait(timeout, function()
    return latest ~= nil and latest.version == version
  end, 20)
  if not republished then
    return fail('no diagnostics for version %s within %d ms (latest: %s)', tostring(version),
      timeout, vim.inspect(latest and latest.version))
  end
  for _, d in ipairs(latest.diagnostics) do
    if d.code == code and d.range.start.line == line - 1 then
      return fail('%s is still reported on line %d after the fix (version %s)', code, line, tostring(version))
    end
  end
  log('OK: %s gone from line %d in the diagnostics %s for version %s', code, line, latest.how,
    tostring(version))

  local id = client.id
  vim.lsp.stop_client(id)
  local stopped = vim.wait(timeout, function() return vim.lsp.get_client_by_id(id) == nil end, 20)
  log('server stopped: %s', tostring(stopped))
  vim.cmd('qall!')
end

local ok, problem = xpcall(main, debug.traceback)
if not ok then
  fail('error: %s', tostring(problem))
end
