-- The :Kenetic subcommands of the next-edit flow (why, toggle, acceptAllInFile, acceptAll) and
-- the plain-text renderings commands.lua shares (applied counts, the stats card).

local kenetic = require('kenetic')
local nextedit = require('kenetic.nextedit')

local M = {}

local function plural(n, one, many)
  return ('%d %s'):format(n, n == 1 and one or (many or one .. 's'))
end
M.plural = plural

--- "Applied N places" / "Nothing to apply" from a kenetic.applySkill answer ({applied: int,
--- edits, files, suggestionIds}; older servers send applied as a bool).
function M.applied_message(result)
  result = type(result) == 'table' and result or {}
  local n = result.applied
  if type(n) == 'boolean' then
    n = n and tonumber(result.edits) or 0
  end
  n = tonumber(n) or 0
  if n <= 0 then
    return 'Nothing to apply', 0
  end
  local files = tonumber(result.files) or 1
  return ('Applied %s%s'):format(plural(n, 'place'), files > 1 and (' in ' .. plural(files, 'file')) or ''), n
end

--- kenetic/stats as a short markdown card: each fact once.
function M.stats_text(s)
  s = type(s) == 'table' and s or {}
  local out = { '# Kenetic memory', '' }
  local ep = type(s.episodes) == 'table' and s.episodes or {}
  table.insert(out, ('- episodes: %d edit, %d command, %d agent'):format(ep.edit or 0, ep.command or 0, ep.agent or 0))
  table.insert(out, '- ' .. plural(tonumber(s.skills) or 0, 'skill'))
  local o = type(s.outcomes) == 'table' and s.outcomes or {}
  table.insert(out, ('- suggestions: %d shown, %d accepted, %d rejected, %d undone'):format(o.shown or 0, o.accepted or 0, o.rejected or 0, o.undone or 0))
  if (tonumber(s.pending) or 0) > 0 then
    table.insert(out, ('- pending: %d'):format(s.pending))
  end
  local store = type(s.store) == 'table' and s.store or nil
  if store then
    table.insert(out, ('- store: %s%s'):format(store.path or '?', store.ok == false and (' (' .. tostring(store.error) .. ')') or ''))
  end
  if s.writeError and s.writeError ~= vim.NIL then
    table.insert(out, '- writes failing: ' .. tostring(s.writeError))
  end
  table.insert(out, '')
  table.insert(out, '## Ranker: ' .. tostring(s.ranker or 'rules'))
  local trm = type(s.trm) == 'table' and s.trm or nil
  if trm then
    table.insert(out, '')
    table.insert(out, ('- TRM %s, version %s%s'):format(trm.enabled == false and 'off' or 'on', tostring(trm.version or 0), trm.training and ', training now' or ''))
    table.insert(out, ('- outcomes: %s (%s new; training needs %s)'):format(tostring(trm.outcomes or 0), tostring(trm.newOutcomes or 0), tostring(trm.minOutcomes or '?')))
    if trm.lastError and trm.lastError ~= vim.NIL then
      table.insert(out, '- last error: ' .. tostring(trm.lastError))
    end
  end
  table.insert(out, '')
  table.insert(out, ('session `%s`'):format(tostring(s.sessionId or '?')))
  return table.concat(out, '\n')
end

--- The skill to act on: the marked next edit's, else nil.
local function marked_skill()
  local id = nextedit.skill_id()
  if not id then
    kenetic.notify('no next edit is marked', vim.log.levels.WARN)
  end
  return id
end

--- Apply the marked edit's skill in this file (scope 'file') or the workspace ('workspace').
function M.accept_all(scope, id)
  id = id or marked_skill()
  if not id then
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  nextedit.reset()
  kenetic.exec('kenetic.applySkill', { id = id, uri = vim.uri_from_bufnr(bufnr), scope = scope }, function(result)
    M.last_applied = result
    kenetic.notify((M.applied_message(result)))
  end, bufnr)
end

--- "Why this?": the marked edit's skill card, then Never suggest this / Rename.
---@param show_card fun(result: table): any shows the card (commands.lua's float)
function M.why(show_card)
  local id = marked_skill()
  if not id then
    return
  end
  kenetic.request('kenetic/skill', { id = id }, function(result)
    show_card(result)
    local choices = { 'Never suggest this', 'Rename…', 'Close' }
    vim.ui.select(choices, { prompt = ('kenetic: %s'):format(result.name or id), kind = 'kenetic.why' }, function(choice)
      if choice == choices[1] then
        kenetic.exec('kenetic.deleteSkill', { id = id }, function()
          nextedit.reset()
          kenetic.notify(('"%s" is not suggested again'):format(result.name or id))
        end)
      elseif choice == choices[2] then
        vim.ui.input({ prompt = 'New name: ', default = result.name }, function(name)
          if name and vim.trim(name) ~= '' then
            kenetic.exec('kenetic.renameSkill', { id = id, name = vim.trim(name) }, function()
              kenetic.notify(('renamed to "%s"'):format(vim.trim(name)))
            end)
          end
        end)
      end
    end)
  end)
end

--- Suggestions off/on: for this buffer, or (bang / `session`) for the whole session.
function M.toggle(arg, bang)
  local bufnr = vim.api.nvim_get_current_buf()
  local args = vim.empty_dict()
  local whole = bang or arg == 'session' or arg == 'all'
  if not whole then
    args = { uri = vim.uri_from_bufnr(bufnr) }
  end
  if arg == 'on' or arg == 'off' then
    args.enabled = arg == 'on'
  end
  kenetic.exec('kenetic.toggleSuggestions', args, function(result)
    result = type(result) == 'table' and result or {}
    local uri = result.uri ~= vim.NIL and result.uri or nil
    if uri then
      kenetic.suggestions.buffers[uri] = result.enabled
    else
      kenetic.suggestions.session = result.enabled
      kenetic.suggestions.buffers = {}
    end
    if not result.enabled then
      nextedit.reset()
    end
    M.last_toggle = result
    kenetic.notify(('suggestions %s %s'):format(result.enabled and 'on' or 'off', uri and 'for this buffer' or 'for this session'))
  end, bufnr)
end

return M
