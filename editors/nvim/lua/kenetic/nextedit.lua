-- Next edits: after a change (and the client's idle timer), ask kenetic/nextEdits and mark the
-- best site with a sign and a preview of the rewrite (extmarks). next() jumps to the marked site
-- and accepts it when already there; accept() applies it and sends `accepted`; dismiss() sends
-- `rejected` and marks the next one. After an accept the change asks again, so the next site is
-- marked until none is left. A site in another file shows as a hint with the file name.

local kenetic = require('kenetic')

local M = {}

local ns = vim.api.nvim_create_namespace('kenetic.nextedit')
M.ns = ns

---@class kenetic.NextMark
---@field edit table the kenetic/nextEdits item {uri, range, newText, skillId, suggestionId, score}
---@field client vim.lsp.Client
---@field bufnr integer the buffer the mark is drawn in
---@field here boolean the site is in that buffer (else the mark is a hint to another file)

---@type kenetic.NextMark|nil
local mark = nil
local rest = {} ---@type table[] the other edits of the last answer, best first
local dismissed = {} ---@type table<string, boolean> sites dismissed this session
local timers = {} ---@type table<integer, uv.uv_timer_t>
local generation = 0
local attached = {} ---@type table<integer, boolean>

--- For tests and the statusline: hrtime of the last change and of the last mark drawn.
M.changed_at, M.marked_at = nil, nil

local function hl_defaults()
  vim.api.nvim_set_hl(0, 'KeneticNextSign', { default = true, link = 'DiagnosticSignHint' })
  vim.api.nvim_set_hl(0, 'KeneticNextPreview', { default = true, link = 'DiagnosticVirtualTextHint' })
  vim.api.nvim_set_hl(0, 'KeneticNextOld', { default = true, strikethrough = true })
end
hl_defaults()
vim.api.nvim_create_autocmd('ColorScheme', { callback = hl_defaults })

local function opts()
  return kenetic.config.next
end

local function site_key(edit)
  local s = edit.range.start
  return ('%s:%d:%d:%s'):format(edit.uri, s.line, s.character, edit.newText)
end

--- What is marked now (nil when nothing is).
function M.current()
  return mark
end

function M.clear()
  if mark and vim.api.nvim_buf_is_valid(mark.bufnr) then
    vim.api.nvim_buf_clear_namespace(mark.bufnr, ns, 0, -1)
  end
  mark = nil
end

local function col_of(bufnr, pos, client)
  local ok, col = pcall(vim.lsp.util._get_line_byte_from_position, bufnr, pos, client.offset_encoding)
  return ok and col or pos.character
end

--- The line as it would read after the edit (its first line for a multi-line one).
local function preview(bufnr, edit, client)
  local r = edit.range
  local line = vim.api.nvim_buf_get_lines(bufnr, r.start.line, r.start.line + 1, false)[1] or ''
  local scol = col_of(bufnr, r.start, client)
  local new_lines = vim.split(edit.newText, '\n', { plain = true })
  if r['end'].line ~= r.start.line or #new_lines > 1 then
    return vim.trim(line:sub(1, scol) .. new_lines[1]) .. ' …', scol, #line
  end
  local ecol = col_of(bufnr, r['end'], client)
  return vim.trim(line:sub(1, scol) .. edit.newText .. line:sub(ecol + 1)), scol, ecol
end

local function draw(client, edit, bufnr)
  M.clear()
  local target = vim.uri_to_bufnr(edit.uri)
  local here = target == bufnr
  local o = opts()
  if here then
    local row = edit.range.start.line
    if row >= vim.api.nvim_buf_line_count(bufnr) then
      return
    end
    local text, scol, ecol = preview(bufnr, edit, client)
    vim.api.nvim_buf_set_extmark(bufnr, ns, row, 0, {
      sign_text = o.sign,
      sign_hl_group = 'KeneticNextSign',
      virt_text = { { '  ' .. o.sign .. ' ' .. text, 'KeneticNextPreview' } },
      virt_text_pos = 'eol',
    })
    if ecol > scol then
      pcall(vim.api.nvim_buf_set_extmark, bufnr, ns, row, scol, { end_col = ecol, hl_group = 'KeneticNextOld' })
    end
  else
    local row = vim.api.nvim_win_get_buf(0) == bufnr and vim.api.nvim_win_get_cursor(0)[1] - 1 or 0
    local fname = vim.uri_to_fname(edit.uri)
    local name = vim.fn.fnamemodify(fname, ':~:.')
    local text = vim.split(edit.newText, '\n')[1]
    local r = edit.range
    if vim.api.nvim_buf_is_loaded(target) then
      text = preview(target, edit, client)
    elseif r.start.line == r['end'].line and not edit.newText:find('\n') then
      -- not loaded (loading it would open it in the server too): the line from disk
      local ok, lines = pcall(vim.fn.readfile, fname, '', r.start.line + 1)
      local old = ok and lines[r.start.line + 1] or nil
      if old then
        text = vim.trim(old:sub(1, r.start.character) .. edit.newText .. old:sub(r['end'].character + 1))
      end
    end
    vim.api.nvim_buf_set_extmark(bufnr, ns, row, 0, {
      virt_text = {
        { ('  %s next edit in %s:%d: %s'):format(o.sign, name, r.start.line + 1, text), 'KeneticNextPreview' },
      },
      virt_text_pos = 'eol',
    })
  end
  mark = { edit = edit, client = client, bufnr = bufnr, here = here }
  M.marked_at = vim.uv.hrtime()
  pcall(vim.cmd.redrawstatus)
end

--- Mark the best edit of `edits` not dismissed; the others are kept for dismiss().
local function show(client, edits, bufnr)
  rest = {}
  for _, edit in ipairs(edits) do
    if not dismissed[site_key(edit)] and not dismissed[edit.suggestionId or ''] then
      table.insert(rest, edit)
    end
  end
  local best = table.remove(rest, 1)
  if best then
    draw(client, best, bufnr)
  else
    M.clear()
  end
  return best ~= nil
end

--- Ask kenetic/nextEdits for `bufnr` (edits on line `row` are left out) and mark the best one.
---@param on_done fun(found: boolean)|nil
function M.request(bufnr, row, on_done)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = kenetic.client(bufnr)
  if not client or not vim.lsp.buf_is_attached(bufnr, client.id) then
    return
  end
  generation = generation + 1
  local gen, tick = generation, vim.b[bufnr].changedtick
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }
  if row then
    params.position = { line = row, character = 0 }
  end
  client:request('kenetic/nextEdits', params, function(err, result)
    if err or gen ~= generation or not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    if vim.b[bufnr].changedtick ~= tick then
      return -- stale: the buffer changed since
    end
    local found = show(client, type(result) == 'table' and result.edits or {}, bufnr)
    if on_done then
      on_done(found)
    end
  end, bufnr)
end

--- After a change: the idle timer, then ask; while the skill is still being learned (the
--- server mines once the burst closes, capture.idleGapMs later) ask again a few times.
local function schedule(bufnr, row)
  local timer = kenetic.buffer_timer(timers, bufnr)
  local gap = vim.tbl_get(kenetic.config.settings, 'capture', 'idleGapMs') or 1500
  local delays = { opts().debounce_ms or kenetic.config.inline.debounce_ms, gap + 250, gap + 1000, gap + 2500 }
  local tick = vim.b[bufnr].changedtick
  local i = 0
  local function fire()
    i = i + 1
    if not vim.api.nvim_buf_is_valid(bufnr) or vim.b[bufnr].changedtick ~= tick then
      return
    end
    M.request(bufnr, row, function(found)
      if not found and delays[i + 1] and vim.b[bufnr].changedtick == tick then
        timer:start(delays[i + 1] - delays[i], 0, vim.schedule_wrap(fire))
      end
    end)
  end
  timer:start(delays[1], 0, vim.schedule_wrap(fire))
end

--- Follow a buffer's changes (once per buffer the kenetic client attaches to).
function M.attach(bufnr)
  if not opts().enabled or attached[bufnr] then
    return
  end
  attached[bufnr] = true
  vim.api.nvim_buf_attach(bufnr, false, {
    on_lines = function(_, buf, _, firstline)
      if not attached[buf] then
        return true -- detach
      end
      M.changed_at = vim.uv.hrtime()
      vim.schedule(function()
        if mark and (mark.bufnr == buf or vim.uri_to_bufnr(mark.edit.uri) == buf) then
          M.clear()
        end
        schedule(buf, firstline)
      end)
    end,
    on_detach = function(_, buf)
      attached[buf] = nil
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    buffer = bufnr,
    callback = function(ev)
      local c = vim.lsp.get_client_by_id(ev.data.client_id)
      if c and c.name == 'kenetic' then
        attached[bufnr] = nil
        kenetic.close_timer(timers, bufnr)
        return true
      end
    end,
  })
end

local function record(m, outcome)
  if m.edit.suggestionId then
    kenetic.exec('kenetic.recordOutcome', { suggestionId = m.edit.suggestionId, outcome = outcome }, nil, m.bufnr)
  end
end

--- Apply the marked edit (wherever the cursor is) and send `accepted`; false when none.
function M.accept()
  local m = mark
  if not m then
    return false
  end
  M.clear()
  local target = vim.uri_to_bufnr(m.edit.uri)
  vim.fn.bufload(target)
  vim.lsp.util.apply_text_edits({ { range = m.edit.range, newText = m.edit.newText } }, target, m.client.offset_encoding)
  record(m, 'accepted')
  if vim.api.nvim_get_current_buf() == target then
    local row = m.edit.range.start.line + 1
    pcall(vim.api.nvim_win_set_cursor, 0, { row, col_of(target, m.edit.range.start, m.client) })
  end
  return true
end

--- Jump to the marked site; accept it when the cursor is already there. Asks the server when
--- nothing is marked. False when there is nothing to do.
function M.next()
  local m = mark
  if not m then
    M.request(vim.api.nvim_get_current_buf(), nil, function(found)
      if not found then
        kenetic.notify('no next edit here')
      end
    end)
    return false
  end
  local target = vim.uri_to_bufnr(m.edit.uri)
  local row = m.edit.range.start.line + 1
  if vim.api.nvim_get_current_buf() == target and vim.api.nvim_win_get_cursor(0)[1] == row then
    return M.accept()
  end
  if vim.api.nvim_get_current_buf() ~= target then
    vim.cmd('normal! m`')
    vim.bo[target].buflisted = true
    vim.api.nvim_win_set_buf(0, target)
    if not m.here then
      draw(m.client, m.edit, target) -- the hint becomes a mark at the site
    end
  else
    vim.cmd('normal! m`')
  end
  pcall(vim.api.nvim_win_set_cursor, 0, { row, col_of(target, m.edit.range.start, m.client) })
  return true
end

--- Dismiss the marked edit (sends `rejected`; it is not offered again) and mark the next one.
function M.dismiss()
  local m = mark
  if not m then
    return false
  end
  dismissed[site_key(m.edit)] = true
  if m.edit.suggestionId then
    dismissed[m.edit.suggestionId] = true
  end
  record(m, 'rejected')
  M.clear()
  show(m.client, rest, m.bufnr)
  return true
end

--- The skill of the marked edit (for :Kenetic why and the accept-all commands).
function M.skill_id()
  return mark and mark.edit.skillId or nil
end

--- Stop marking until the next change (suggestions toggled off).
function M.reset()
  M.clear()
  rest = {}
end

--- <Plug> mappings, and the default keys where the user has no mapping of their own.
function M.map_keys()
  local plugs = {
    next = { '<Plug>(kenetic-next)', M.next, 'kenetic: jump to the next edit, accept it when there' },
    accept = { '<Plug>(kenetic-accept)', M.accept, 'kenetic: accept the marked next edit' },
    dismiss = { '<Plug>(kenetic-dismiss)', M.dismiss, 'kenetic: dismiss the marked next edit' },
  }
  for name, p in pairs(plugs) do
    vim.keymap.set('n', p[1], function()
      p[2]()
    end, { desc = p[3] })
    local lhs = opts().keys[name]
    -- a default only where the key is free and the user has not mapped the <Plug> already
    if lhs and lhs ~= '' and vim.fn.hasmapto(p[1], 'n') == 0 and next(vim.fn.maparg(lhs, 'n', false, true)) == nil then
      vim.keymap.set('n', lhs, function()
        if not p[2]() and name == 'dismiss' then
          vim.api.nvim_feedkeys(vim.keycode(lhs), 'n', false) -- nothing marked: the key's own meaning
        end
      end, { desc = p[3] })
    end
  end
end

return M
